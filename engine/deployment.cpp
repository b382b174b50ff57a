#include "engine/deployment.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace orgquake::engine {
namespace {

std::string quoted(pqxx::connection& connection, const std::string& name) {
  return connection.quote_name(name);
}

}  // namespace

void set_rollout_flag(const services::PgUrl& url, std::int64_t version, int percentage,
                      const std::vector<std::string>& allow_list) {
  pqxx::connection connection(url.conninfo());
  pqxx::work tx(connection);
  // The allow list goes as JSON, so that no id needs array quoting.
  tx.exec_params0(
      "UPDATE rollout_flag SET percentage = $1, "
      "allow_list = ARRAY(SELECT json_array_elements_text($2::json)), version = $3 "
      "WHERE name = 'org_path'",
      percentage, nlohmann::json(allow_list).dump(), version);
  tx.commit();
}

void back_up_database(const services::PgUrl& admin, const std::string& name,
                      const std::string& backup) {
  pqxx::connection connection(admin.conninfo());
  pqxx::nontransaction tx(connection);
  tx.exec0("CREATE DATABASE " + quoted(connection, backup) + " TEMPLATE " +
           quoted(connection, name) + " STRATEGY FILE_COPY");
}

void restore_database(const services::PgUrl& admin, const std::string& name,
                      const std::string& backup) {
  pqxx::connection connection(admin.conninfo());
  pqxx::nontransaction tx(connection);
  tx.exec0("DROP DATABASE IF EXISTS " + quoted(connection, name) + " WITH (FORCE)");
  tx.exec0("CREATE DATABASE " + quoted(connection, name) + " TEMPLATE " +
           quoted(connection, backup) + " STRATEGY FILE_COPY");
}

void drop_database(const services::PgUrl& admin, const std::string& name) {
  pqxx::connection connection(admin.conninfo());
  pqxx::nontransaction tx(connection);
  tx.exec0("DROP DATABASE IF EXISTS " + quoted(connection, name) + " WITH (FORCE)");
}

}  // namespace orgquake::engine
