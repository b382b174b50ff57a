#include "reports/results_json.hpp"

namespace orgquake::reports {
namespace {

nlohmann::json invariant_json(const results::InvariantResult& invariant) {
  // Verdict::to_json gives "verdict", "summary" and "evidence"; the name goes
  // beside them so that each entry reads on its own.
  nlohmann::json json = invariant.verdict.to_json();
  json["name"] = invariant.name;
  return json;
}

nlohmann::json trial_json(const results::TrialResult& trial) {
  nlohmann::json invariants = nlohmann::json::array();
  for (const auto& invariant : trial.invariants) invariants.push_back(invariant_json(invariant));
  nlohmann::json json = {{"index", trial.index},
                         {"scenario", trial.scenario},
                         {"seed", trial.seed},
                         {"verdict", results::name_of(trial.verdict)},
                         {"invariants", std::move(invariants)},
                         {"stats", trial.stats.to_json()},
                         {"fault_plan", trial.fault_plan},
                         {"choices", trial.choices},
                         {"failpoint_order", trial.failpoint_order},
                         {"options", trial.options},
                         {"duration_s", trial.duration_s},
                         {"repro", trial.repro_command}};
  if (!trial.error.empty()) json["error"] = trial.error;
  return json;
}

}  // namespace

nlohmann::json results_json(const results::RunResult& run) {
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& trial : run.trials) trials.push_back(trial_json(trial));
  nlohmann::json out = {{"seed", run.seed},
                        {"suite", run.suite},
                        {"migrator", run.migrator},
                        {"migrator_declaration", run.migrator_declaration},
                        {"migrator_description", run.migrator_description},
                        {"users", run.users},
                        {"verdict", results::name_of(run.verdict)},
                        {"duration_s", run.duration_s},
                        {"git_sha", run.git_sha},
                        {"started_at", run.started_at},
                        {"spec", run.spec},
                        {"trials", std::move(trials)}};
  if (!run.story.empty()) out["story"] = {{"title", run.story_title}, {"lines", run.story}};
  return out;
}

std::string dump_report_json(const nlohmann::json& json, int indent) {
  return json.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace orgquake::reports
