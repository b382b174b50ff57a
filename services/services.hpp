#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "services/embedded_postgres.hpp"
#include "services/embedded_redis.hpp"
#include "services/postgres_url.hpp"
#include "services/redis_url.hpp"
#include "services/run_directory.hpp"

namespace orgquake::services {

struct ServicesOptions {
  /// An external PostgreSQL (a container, a staging copy); else
  /// $ORGQUAKE_PG_URL; else the harness starts its own.
  std::optional<std::string> pg_url;
  /// An external Redis; else $ORGQUAKE_REDIS_URL; else the harness starts its own.
  std::optional<std::string> redis_url;
  /// Ports for embedded servers; none: free ports of the kernel's choice.
  std::optional<std::uint16_t> pg_port;
  std::optional<std::uint16_t> redis_port;
  /// Clients reach an embedded PostgreSQL through the harness's pool of kept
  /// sessions (services/session_pool.hpp); false: each client connects to
  /// the server itself, as it does to an external one.
  bool session_pool = true;
};

/// The PostgreSQL and Redis a run uses, embedded or external, behind the
/// safety interlock. Stopping (or destroying) it stops what it started and
/// removes the run directory.
class Services {
 public:
  /// Validates every URL before starting anything, so bad input leaves
  /// nothing running. Throws UsageError or EnvironmentError.
  static std::unique_ptr<Services> start(const ServicesOptions& options);
  /// What start() checks before it starts anything, without starting: the
  /// URLs parse, the flags go together, an external server is one orgquake
  /// may use, the embedded servers' programs exist. A parent of runs that
  /// each start their own (the lanes of --jobs) fails once, in one line.
  static void check(const ServicesOptions& options);
  /// Whether a run with these options relays its clients through the
  /// session pool: asked for, and the PostgreSQL is the embedded one.
  static bool pools_sessions(const ServicesOptions& options);
  ~Services();

  /// A database orgquake may write to and create trial databases from.
  const PgUrl& admin_url() const { return admin_url_; }
  const RedisUrl& redis_url() const { return redis_url_; }

  /// The database holding the applied schema to clone templates from, when
  /// the server is embedded (external servers get the schema applied afresh).
  std::optional<std::string> schema_base_database() const;

  EmbeddedPostgres* embedded_postgres() const { return postgres_.get(); }
  EmbeddedRedis* embedded_redis() const { return redis_.get(); }
  const RunDirectory& run_directory() const { return *run_; }

  /// Stops the embedded Redis (an outage: clients see refused connections)
  /// and starts it again on the same port, empty, as a restarted server
  /// without persistence comes back. Throws EnvironmentError for an external
  /// Redis, which the harness must not stop.
  void stop_redis();
  void start_redis();
  /// An external Redis is taken to be running: orgquake never stops it.
  bool redis_running() const { return external_redis_ || redis_ != nullptr; }
  bool redis_embedded() const { return external_redis_ == false; }

  /// Wall time from start() being called to both servers answering.
  std::chrono::microseconds startup_time() const { return startup_time_; }

  /// A database name unique to this harness process: <prefix>_<pid>_<start>_<n>.
  std::string unique_database_name(const std::string& prefix);

  void stop();

 private:
  Services() = default;
  std::optional<RunDirectory> run_;  // declared first: removed last
  std::unique_ptr<EmbeddedPostgres> postgres_;
  std::unique_ptr<EmbeddedRedis> redis_;
  PgUrl admin_url_;
  RedisUrl redis_url_;
  bool external_redis_ = false;
  std::chrono::microseconds startup_time_{0};
  int database_counter_ = 0;
};

}  // namespace orgquake::services
