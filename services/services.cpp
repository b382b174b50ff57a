#include "services/services.hpp"

#include <cstdlib>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "core/error.hpp"
#include "core/one_line.hpp"
#include "services/interlock.hpp"
#include "services/postgres_binaries.hpp"
#include "services/postgres_cluster_cache.hpp"

namespace orgquake::services {
namespace {

std::optional<std::string> from_flag_or_env(const std::optional<std::string>& flag,
                                            const char* variable) {
  if (flag) return flag;
  if (const char* value = std::getenv(variable); value && *value) return std::string(value);
  return std::nullopt;
}

void check_external_postgres(const PgUrl& url) {
  std::unique_ptr<pqxx::connection> connection;
  try {
    connection = std::make_unique<pqxx::connection>(url.conninfo());
  } catch (const pqxx::broken_connection& e) {
    throw EnvironmentError(
        fmt::format("cannot connect to PostgreSQL at {}: {}", url.display(), one_line(e.what())));
  }
  require_marker(*connection, url);
}

// The external servers the options name (from the flags or the
// environment), parsed and checked against each other.
struct ExternalServers {
  std::optional<PgUrl> pg;
  std::optional<RedisUrl> redis;
};

ExternalServers parse_external_servers(const ServicesOptions& options) {
  const auto pg_url = from_flag_or_env(options.pg_url, "ORGQUAKE_PG_URL");
  const auto redis_url = from_flag_or_env(options.redis_url, "ORGQUAKE_REDIS_URL");
  ExternalServers external;
  if (pg_url) external.pg = PgUrl::parse(*pg_url);
  if (redis_url) external.redis = RedisUrl::parse(*redis_url);
  if (external.pg && options.pg_port) {
    throw UsageError("--pg-port is for the embedded server; it cannot go with --pg-url");
  }
  if (external.redis && options.redis_port) {
    throw UsageError("--redis-port is for the embedded server; it cannot go with --redis-url");
  }
  return external;
}

}  // namespace

void Services::check(const ServicesOptions& options) {
  const auto external = parse_external_servers(options);
  if (external.pg) {
    check_external_postgres(*external.pg);
  } else {
    find_postgres_binaries();
  }
  if (external.redis) {
    claim_or_require_redis_marker(*external.redis);
  } else {
    find_redis_server();
  }
}

bool Services::pools_sessions(const ServicesOptions& options) {
  return options.session_pool && !from_flag_or_env(options.pg_url, "ORGQUAKE_PG_URL");
}

std::unique_ptr<Services> Services::start(const ServicesOptions& options) {
  const auto started = std::chrono::steady_clock::now();
  std::unique_ptr<Services> services(new Services());

  // Parse everything first: a bad URL must not leave a server running.
  const auto [external_pg, external_redis] = parse_external_servers(options);
  if (external_pg) {
    check_external_postgres(*external_pg);
    services->admin_url_ = *external_pg;
  }
  if (external_redis) {
    claim_or_require_redis_marker(*external_redis);
    services->redis_url_ = *external_redis;
    services->external_redis_ = true;
  }
  if (!external_pg || !external_redis) services->run_.emplace(RunDirectory::create());
  if (!external_pg) {
    services->postgres_ = EmbeddedPostgres::start(*services->run_, {options.pg_port, 400});
    services->admin_url_ = services->postgres_->url("postgres");
  }
  if (!external_redis) {
    services->redis_ = EmbeddedRedis::start(*services->run_, {options.redis_port});
    services->redis_url_ = services->redis_->url();
  }
  services->startup_time_ = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  return services;
}

Services::~Services() {
  stop();
}

std::optional<std::string> Services::schema_base_database() const {
  if (postgres_) return std::string(kBaseDatabase);
  return std::nullopt;
}

std::string Services::unique_database_name(const std::string& prefix) {
  std::string tag = self_owner_tag();
  for (auto& c : tag) c = c == '-' ? '_' : c;
  return fmt::format("{}_{}_{}", prefix, tag, ++database_counter_);
}

void Services::stop_redis() {
  if (external_redis_) {
    throw EnvironmentError("cannot stop an external Redis (" + redis_url_.display() +
                           "); a Redis outage needs the embedded one");
  }
  if (redis_) redis_->stop();
  redis_.reset();
}

void Services::start_redis() {
  if (external_redis_) {
    throw EnvironmentError("cannot start an external Redis (" + redis_url_.display() + ")");
  }
  if (redis_) return;
  redis_ = EmbeddedRedis::start(*run_, {redis_url_.port});
}

void Services::stop() {
  if (redis_) redis_->stop();
  if (postgres_) postgres_->stop();
  redis_.reset();
  postgres_.reset();
  run_.reset();
}

}  // namespace orgquake::services
