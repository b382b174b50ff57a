#include "reports/results_json.hpp"

#include "results/run_result_json.hpp"

namespace orgquake::reports {

nlohmann::json results_json(const results::RunResult& run) {
  return results::run_to_json(run);
}

std::string dump_report_json(const nlohmann::json& json, int indent) {
  return json.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace orgquake::reports
