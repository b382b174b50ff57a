#include "world/digest.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "core/hash.hpp"

namespace orgquake::world {

std::map<std::string, std::string> table_digests(pqxx::connection& connection) {
  // One snapshot for all tables, so that the digest is of one moment.
  pqxx::work tx(connection);
  tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
  std::map<std::string, std::string> digests;
  for (const auto& row : tx.exec("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                 "ORDER BY tablename")) {
    const auto table = row[0].as<std::string>();
    // Rows as text, sorted: equal content gives an equal digest whatever the
    // physical order. The marker and schema_version record when they were
    // written, not what the data is, so they are left out.
    if (table == "orgquake_marker" || table == "schema_version") continue;
    const auto result = tx.exec(fmt::format(
        "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) "
        "FROM {} AS t",
        tx.quote_name(table)));
    digests[table] =
        fmt::format("{}:{}", result[0][0].as<long long>(), result[0][1].as<std::string>());
  }
  tx.commit();
  return digests;
}

std::string database_digest(pqxx::connection& connection) {
  StableHash hash;
  for (const auto& [table, digest] : table_digests(connection))
    hash.add_field(table).add_field(digest);
  return hash.hex();
}

}  // namespace orgquake::world
