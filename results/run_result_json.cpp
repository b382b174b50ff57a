#include "results/run_result_json.hpp"

namespace orgquake::results {
namespace {

nlohmann::json invariant_json(const InvariantResult& invariant) {
  // Verdict::to_json gives "verdict", "summary" and "evidence"; the name goes
  // beside them so that each entry reads on its own.
  nlohmann::json json = invariant.verdict.to_json();
  json["name"] = invariant.name;
  return json;
}

TrialStats stats_from_json(const nlohmann::json& json) {
  TrialStats stats;
  stats.max_concurrent_lookups = json.value("max_concurrent_lookups", 0);
  stats.lock_waits = json.value("lock_waits", 0);
  stats.crashes = json.value("crashes", 0);
  stats.pauses = json.value("pauses", 0);
  stats.operations = json.value("operations", 0);
  stats.ok = json.value("ok", 0);
  stats.failed = json.value("failed", 0);
  stats.unknown_outcome = json.value("unknown_outcome", 0);
  stats.faults = json.value("faults", 0);
  stats.failpoint_hits = json.value("failpoint_hits", 0);
  return stats;
}

}  // namespace

nlohmann::json trial_to_json(const TrialResult& trial) {
  nlohmann::json invariants = nlohmann::json::array();
  for (const auto& invariant : trial.invariants) invariants.push_back(invariant_json(invariant));
  nlohmann::json json = {{"index", trial.index},
                         {"scenario", trial.scenario},
                         {"seed", trial.seed},
                         {"verdict", name_of(trial.verdict)},
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

TrialResult trial_from_json(const nlohmann::json& json) {
  TrialResult trial;
  trial.index = json.at("index").get<int>();
  trial.scenario = json.at("scenario").get<std::string>();
  trial.seed = json.at("seed").get<std::uint64_t>();
  trial.verdict = validity_from_name(json.at("verdict").get<std::string>());
  for (const auto& entry : json.at("invariants")) {
    trial.invariants.push_back({entry.at("name").get<std::string>(), Verdict::from_json(entry)});
  }
  trial.error = json.value("error", std::string());
  trial.stats = stats_from_json(json.value("stats", nlohmann::json::object()));
  trial.fault_plan = json.value("fault_plan", nlohmann::json::array());
  trial.choices = json.value("choices", nlohmann::json::array());
  trial.failpoint_order = json.value("failpoint_order", std::vector<std::string>());
  trial.options = json.value("options", nlohmann::json::object());
  trial.duration_s = json.value("duration_s", 0.0);
  trial.repro_command = json.value("repro", std::string());
  return trial;
}

nlohmann::json trial_with_history_to_json(const TrialResult& trial) {
  nlohmann::json json = trial_to_json(trial);
  nlohmann::json events = nlohmann::json::array();
  for (const auto& event : trial.history.events()) events.push_back(event.to_json());
  json["history"] = std::move(events);
  return json;
}

TrialResult trial_with_history_from_json(const nlohmann::json& json) {
  TrialResult trial = trial_from_json(json);
  for (const auto& event : json.at("history")) {
    trial.history.add(history::Event::from_json(event));
  }
  return trial;
}

nlohmann::json run_to_json(const RunResult& run) {
  nlohmann::json trials = nlohmann::json::array();
  for (const auto& trial : run.trials) trials.push_back(trial_to_json(trial));
  nlohmann::json out = {{"seed", run.seed},
                        {"suite", run.suite},
                        {"migrator", run.migrator},
                        {"migrator_declaration", run.migrator_declaration},
                        {"migrator_description", run.migrator_description},
                        {"users", run.users},
                        {"verdict", name_of(run.verdict)},
                        {"duration_s", run.duration_s},
                        {"git_sha", run.git_sha},
                        {"started_at", run.started_at},
                        {"session_pool", run.session_pool},
                        {"spec", run.spec},
                        {"trials", std::move(trials)}};
  if (run.shard) out["shard"] = {{"index", run.shard->index}, {"count", run.shard->count}};
  if (!run.story.empty()) out["story"] = {{"title", run.story_title}, {"lines", run.story}};
  return out;
}

RunResult run_from_json(const nlohmann::json& json) {
  RunResult run;
  run.seed = json.at("seed").get<std::uint64_t>();
  run.suite = json.at("suite").get<std::string>();
  run.migrator = json.at("migrator").get<std::string>();
  run.migrator_declaration = json.value("migrator_declaration", nlohmann::json::object());
  run.migrator_description = json.value("migrator_description", nlohmann::json::object());
  run.users = json.value("users", 0);
  run.verdict = validity_from_name(json.at("verdict").get<std::string>());
  run.duration_s = json.value("duration_s", 0.0);
  run.git_sha = json.value("git_sha", std::string("unknown"));
  run.started_at = json.value("started_at", std::string());
  run.spec = json.value("spec", nlohmann::json::object());
  run.session_pool = json.value("session_pool", true);  // the default before it was recorded
  if (const auto shard = json.find("shard"); shard != json.end()) {
    run.shard = Shard{shard->at("index").get<int>(), shard->at("count").get<int>()};
  }
  for (const auto& trial : json.at("trials")) run.trials.push_back(trial_from_json(trial));
  if (const auto story = json.find("story"); story != json.end()) {
    run.story_title = story->value("title", std::string());
    run.story = story->value("lines", std::vector<std::string>());
  }
  return run;
}

}  // namespace orgquake::results
