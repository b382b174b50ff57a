#include "engine/deployment.hpp"

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace orgquake::engine {

std::int64_t set_rollout_flag(const services::PgUrl& url, int percentage,
                              const std::vector<std::string>& allow_list) {
  pqxx::connection connection(url.conninfo());
  pqxx::work tx(connection);
  // The allow list goes as JSON, so that no id needs array quoting.
  const auto version = tx.exec_params1(
                             "UPDATE rollout_flag SET percentage = $1, "
                             "allow_list = ARRAY(SELECT json_array_elements_text($2::json)), "
                             "version = version + 1 WHERE name = 'org_path' RETURNING version",
                             percentage, nlohmann::json(allow_list).dump())[0]
                           .as<std::int64_t>();
  tx.commit();
  return version;
}

}  // namespace orgquake::engine
