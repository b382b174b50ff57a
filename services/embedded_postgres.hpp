#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>

#include "services/postgres_server.hpp"

namespace orgquake::services {

/// A PostgreSQL server of the harness's own: a fresh copy of the cached
/// cluster in the run directory, started on a free loopback port (or the one
/// asked for), run as the `postgres` account when the harness is root.
class EmbeddedPostgres {
 public:
  struct Options {
    std::optional<std::uint16_t> port;  ///< none: a free port of the kernel's choice
    int max_connections = 400;
  };
  /// How long each start-up phase took, for the report.
  struct Timings {
    bool cache_built = false;                   ///< false when the cluster cache was warm
    std::chrono::microseconds cache_lookup{0};  ///< including the build, when there was one
    std::chrono::microseconds copy{0};
    std::chrono::microseconds start{0};
  };

  static std::unique_ptr<EmbeddedPostgres> start(const RunDirectory& run, const Options& options);
  ~EmbeddedPostgres() { stop(); }

  /// The superuser URL of `database` on this server.
  PgUrl url(const std::string& database = "postgres") const { return server_->url(database); }
  std::uint16_t port() const { return server_->port(); }
  pid_t pid() const { return server_->pid(); }
  const PostgresBinaries& binaries() const { return binaries_; }
  const Timings& timings() const { return timings_; }

  void stop();

 private:
  EmbeddedPostgres() = default;
  PostgresBinaries binaries_;
  std::optional<PostgresServer> server_;
  Timings timings_;
};

/// The account the server runs as: `postgres` when we are root (postgres
/// refuses to run as root), ourselves otherwise.
std::optional<Account> postgres_account();

}  // namespace orgquake::services
