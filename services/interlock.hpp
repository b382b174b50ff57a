#pragma once

#include <pqxx/connection>

#include "services/postgres_url.hpp"
#include "services/redis_url.hpp"

namespace orgquake::services {

/// The safety interlock: orgquake writes only to databases it created, or to
/// databases that someone marked for it with this table. Pointed at anything
/// else (a production database, a colleague's schema) it refuses to start.
inline constexpr const char* kMarkerTable = "orgquake_marker";
inline constexpr const char* kRedisMarkerKey = "orgquake:marker";

/// Marks a database orgquake created as its own.
void write_marker(pqxx::connection& connection, const std::string& purpose);

bool has_marker(pqxx::connection& connection);

/// Throws EnvironmentError with one line saying which database was refused
/// and how to mark one for orgquake, unless the database carries the marker.
void require_marker(pqxx::connection& connection, const PgUrl& url);

/// Redis has no tables: an empty Redis is claimed by setting the marker key;
/// one that holds keys but no marker is refused the same way.
void claim_or_require_redis_marker(const RedisUrl& url);

}  // namespace orgquake::services
