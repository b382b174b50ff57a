#include "services/embedded_postgres.hpp"

#include <unistd.h>

#include <fmt/format.h>

#include "services/loopback_port.hpp"
#include "services/postgres_cluster_cache.hpp"

namespace orgquake::services {
namespace {

using Clock = std::chrono::steady_clock;

std::chrono::microseconds since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
}

// A kernel-chosen port can be taken by someone else before postgres binds
// it; then we simply choose again.
constexpr int kPostgresPortAttempts = 5;

}  // namespace

std::optional<Account> postgres_account() {
  if (geteuid() != 0) return std::nullopt;
  auto account = find_account("postgres");
  if (!account) {
    throw EnvironmentError(
        "running as root, but there is no 'postgres' account to run the server as "
        "(postgres refuses root): run ci/quake setup, or useradd --system postgres");
  }
  return account;
}

std::unique_ptr<EmbeddedPostgres> EmbeddedPostgres::start(const RunDirectory& run,
                                                          const Options& options) {
  std::unique_ptr<EmbeddedPostgres> pg(new EmbeddedPostgres());
  pg->binaries_ = find_postgres_binaries();
  const auto account = postgres_account();
  if (options.port) require_free_loopback_port(*options.port);

  auto t = Clock::now();
  const auto cache = cached_cluster(pg->binaries_, account, run, &pg->timings_.cache_built);
  pg->timings_.cache_lookup = since(t);

  t = Clock::now();
  PostgresServerOptions server;
  server.data_directory = run.path() / "pgdata";
  copy_cluster(cache, server.data_directory, account);
  pg->timings_.copy = since(t);

  t = Clock::now();
  server.socket_directory = run.make_subdirectory("pgsocket", 0700, account);
  server.log_file = run.path() / "postgres.log";
  server.max_connections = options.max_connections;
  server.run_as = account;
  for (int attempt = 1;; ++attempt) {
    server.port = options.port.value_or(pick_free_loopback_port());
    try {
      pg->server_.emplace(PostgresServer::start(pg->binaries_, server, &run));
      break;
    } catch (const PortInUse&) {
      if (options.port || attempt == kPostgresPortAttempts) throw;
    }
  }
  pg->timings_.start = since(t);
  return pg;
}

void EmbeddedPostgres::stop() {
  if (server_) {
    server_->stop();
    server_.reset();
  }
}

}  // namespace orgquake::services
