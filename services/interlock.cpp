#include "services/interlock.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "core/error.hpp"
#include "services/redis_connection.hpp"

namespace orgquake::services {

void write_marker(pqxx::connection& connection, const std::string& purpose) {
  pqxx::work tx(connection);
  tx.exec(
      fmt::format("CREATE TABLE IF NOT EXISTS {} (created_at timestamptz NOT NULL DEFAULT now(), "
                  "purpose text NOT NULL)",
                  kMarkerTable));
  tx.exec(fmt::format("INSERT INTO {} (purpose) VALUES ({})", kMarkerTable, tx.quote(purpose)));
  tx.commit();
}

bool has_marker(pqxx::connection& connection) {
  pqxx::nontransaction tx(connection);
  return tx.exec(fmt::format("SELECT to_regclass('public.{}') IS NOT NULL", kMarkerTable))[0][0]
      .as<bool>();
}

void require_marker(pqxx::connection& connection, const PgUrl& url) {
  if (has_marker(connection)) return;
  throw EnvironmentError(fmt::format(
      "refusing to use database '{}' at {}:{}: it has no {} table, so it is not orgquake's; "
      "point --pg-url at a database made for orgquake (see ci/docker-compose.yml) or mark one "
      "with: CREATE TABLE {} (created_at timestamptz DEFAULT now(), purpose text)",
      url.database(), url.host(), url.port(), kMarkerTable, kMarkerTable));
}

void claim_or_require_redis_marker(const RedisUrl& url) {
  RedisConnection redis = RedisConnection::connect(url, std::chrono::seconds(5));
  if (redis.command_integer({"EXISTS", kRedisMarkerKey}) == 1) return;
  if (redis.command_integer({"DBSIZE"}) == 0) {
    redis.command_status({"SET", kRedisMarkerKey, "orgquake"});
    return;
  }
  throw EnvironmentError(fmt::format(
      "refusing to use Redis at {}: database {} holds keys but no '{}' key, so it is not "
      "orgquake's; point --redis-url at an empty Redis database or mark one with: SET {} orgquake",
      url.display(), url.database, kRedisMarkerKey, kRedisMarkerKey));
}

}  // namespace orgquake::services
