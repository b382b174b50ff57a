#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>

#include "services/child_process.hpp"
#include "services/loopback_port.hpp"
#include "services/postgres_binaries.hpp"
#include "services/postgres_url.hpp"
#include "services/run_directory.hpp"

namespace orgquake::services {

/// The superuser initdb creates in every cluster orgquake makes.
inline constexpr const char* kSuperuser = "postgres";

struct PostgresServerOptions {
  std::filesystem::path data_directory;
  std::filesystem::path socket_directory;
  std::filesystem::path log_file;
  std::uint16_t port = 0;
  int max_connections = 400;  ///< 256 concurrent clients plus the harness's own
  std::optional<Account> run_as;
};

/// One running postmaster on a data directory, tuned for throwaway data:
/// fsync, synchronous_commit and full_page_writes off, loopback only.
class PostgresServer {
 public:
  /// Starts the server and returns once it accepts connections (probed by
  /// connecting, never by sleeping a fixed time). Throws PortInUse when the
  /// port is taken, EnvironmentError with the log's explanation otherwise.
  static PostgresServer start(const PostgresBinaries& binaries,
                              const PostgresServerOptions& options, const RunDirectory* record_in);

  PgUrl url(const std::string& database = "postgres") const;
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return process_.pid(); }

  /// Fast shutdown (SIGINT): a clean checkpoint, for a cluster that is kept.
  void shut_down_cleanly();
  /// Immediate shutdown (SIGQUIT): for a cluster that is thrown away.
  void stop();

 private:
  PostgresServer(ChildProcess process, std::uint16_t port, std::filesystem::path log)
      : process_(std::move(process)), port_(port), log_(std::move(log)) {}
  ChildProcess process_;
  std::uint16_t port_;
  std::filesystem::path log_;
};

/// Runs initdb into `data_directory` (which must be empty or absent).
void run_initdb(const PostgresBinaries& binaries, const std::filesystem::path& data_directory,
                const std::filesystem::path& log_file, const std::optional<Account>& run_as);

}  // namespace orgquake::services
