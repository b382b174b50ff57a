#pragma once

#include <map>
#include <string>

#include <pqxx/connection>

namespace orgquake::world {

/// A fingerprint of every row of every table in the public schema, one per
/// table, independent of physical row order. Two databases with equal digests
/// hold the same data; a test compares digests to show that something (a
/// second migration, a retried step) changed nothing.
std::map<std::string, std::string> table_digests(pqxx::connection& connection);

/// One digest over table_digests().
std::string database_digest(pqxx::connection& connection);

}  // namespace orgquake::world
