#pragma once

#include <filesystem>
#include <string>

namespace orgquake::services {

/// The PostgreSQL server programs to run.
struct PostgresBinaries {
  std::filesystem::path bindir;
  std::string version;  ///< as `postgres --version` prints it, e.g. "postgres (PostgreSQL) 15.18"
  int major = 0;

  std::filesystem::path postgres() const { return bindir / "postgres"; }
  std::filesystem::path initdb() const { return bindir / "initdb"; }
};

/// $ORGQUAKE_PG_BINDIR, else the newest /usr/lib/postgresql/<N>/bin (N >= 15),
/// else the directory of `postgres` on PATH. Throws EnvironmentError saying
/// how to install them when none is found.
PostgresBinaries find_postgres_binaries();

}  // namespace orgquake::services
