#include "services/postgres_binaries.hpp"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <unistd.h>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/one_line.hpp"

namespace fs = std::filesystem;

namespace orgquake::services {
namespace {

constexpr int kMinimumMajor = 15;  // CREATE DATABASE ... STRATEGY needs 15

bool has_server(const fs::path& dir) {
  return access((dir / "postgres").c_str(), X_OK) == 0 &&
         access((dir / "initdb").c_str(), X_OK) == 0;
}

std::string read_version(const fs::path& postgres) {
  // popen is fine here: the path is ours, quoted, and this runs once per start.
  std::string command = "'" + postgres.string() + "' --version 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) throw_errno("cannot run " + postgres.string());
  char buffer[256];
  std::string out;
  while (fgets(buffer, sizeof buffer, pipe) != nullptr) out += buffer;
  int status = pclose(pipe);
  out = one_line(std::move(out));
  if (status != 0 || out.find("PostgreSQL") == std::string::npos) {
    throw EnvironmentError(fmt::format("{} --version failed: {}", postgres.string(), out));
  }
  return out;
}

int major_of(const std::string& version) {
  // "postgres (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)"
  auto pos = version.find(") ");
  return pos == std::string::npos ? 0 : std::atoi(version.c_str() + pos + 2);
}

}  // namespace

PostgresBinaries find_postgres_binaries() {
  std::vector<fs::path> candidates;
  if (const char* dir = std::getenv("ORGQUAKE_PG_BINDIR"); dir && *dir) {
    if (!has_server(dir)) {
      throw EnvironmentError(fmt::format(
          "ORGQUAKE_PG_BINDIR={} has no executable postgres and initdb; fix it or unset it", dir));
    }
    candidates.push_back(dir);
  } else {
    std::error_code ec;
    std::vector<std::pair<int, fs::path>> versions;
    for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
      int major = std::atoi(entry.path().filename().c_str());
      if (major >= kMinimumMajor && has_server(entry.path() / "bin")) {
        versions.emplace_back(major, entry.path() / "bin");
      }
    }
    std::sort(versions.rbegin(), versions.rend());
    for (auto& [major, path] : versions) candidates.push_back(path);
    if (const char* path = std::getenv("PATH")) {
      std::istringstream dirs(path);
      std::string dir;
      while (std::getline(dirs, dir, ':')) {
        if (!dir.empty() && has_server(dir))
          candidates.push_back(fs::canonical(dir / fs::path("postgres")).parent_path());
      }
    }
  }
  for (const auto& dir : candidates) {
    PostgresBinaries binaries{dir, read_version(dir / "postgres"), 0};
    binaries.major = major_of(binaries.version);
    if (binaries.major >= kMinimumMajor) return binaries;
  }
  throw EnvironmentError(fmt::format(
      "no PostgreSQL {}+ server found (looked in /usr/lib/postgresql/*/bin and PATH): run "
      "ci/quake setup, or set ORGQUAKE_PG_BINDIR, or use --pg-url for an external server",
      kMinimumMajor));
}

}  // namespace orgquake::services
