#include "shrink/shrink_target.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "engine/recorded_run.hpp"
#include "history/history.hpp"

namespace orgquake::shrink {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::vector<std::string> invalid_invariants(const json& trial) {
  std::vector<std::string> names;
  for (const auto& invariant : trial.value("invariants", json::array())) {
    if (invariant.value("verdict", "") == "invalid") {
      names.push_back(invariant.at("name").get<std::string>());
    }
  }
  return names;
}

}  // namespace

ShrinkTarget load_target(const fs::path& run_dir, std::optional<int> trial,
                         const std::optional<std::string>& invariant) {
  const json results = engine::read_results_file(run_dir, "shrink");
  ShrinkTarget target;
  target.run_dir = run_dir;
  const auto lacking = [&](const json::exception& e) {
    return UsageError(
        fmt::format("{}: results.json lacks what a shrink needs: {}", run_dir.string(), e.what()));
  };
  const json* chosen = nullptr;
  try {
    for (const auto& t : results.at("trials")) {
      if (trial ? t.at("index").get<int>() == *trial : t.at("verdict") == "invalid") {
        chosen = &t;
        break;
      }
    }
    if (chosen == nullptr) {
      throw UsageError(trial ? fmt::format("{}: the run has no trial {}", run_dir.string(), *trial)
                             : fmt::format("{}: no trial of the run was invalid; nothing to shrink "
                                           "(name one with --trial N)",
                                           run_dir.string()));
    }
    target.trial_index = chosen->at("index").get<int>();
    target.scenario = chosen->at("scenario").get<std::string>();
    target.trial_seed = chosen->at("seed").get<std::uint64_t>();
    target.original_verdict = chosen->at("verdict").get<std::string>();
  } catch (const json::exception& e) {
    throw lacking(e);
  }
  const auto invalid = invalid_invariants(*chosen);
  if (invalid.empty()) {
    throw UsageError(fmt::format(
        "{}: trial {} ({}) was {}, not invalid: shrinking needs an invariant it broke",
        run_dir.string(), target.trial_index, target.scenario, target.original_verdict));
  }
  if (invariant) {
    if (std::find(invalid.begin(), invalid.end(), *invariant) == invalid.end()) {
      throw UsageError(fmt::format("{}: trial {} did not break {}; it broke: {}", run_dir.string(),
                                   target.trial_index, *invariant, fmt::join(invalid, ", ")));
    }
    target.invariant = *invariant;
  } else {
    target.invariant = invalid.front();
  }
  const auto recorded = engine::recorded_run_of(results, run_dir, "shrink");
  target.spec = recorded.spec;
  target.run_seed = recorded.seed;
  target.migrator = recorded.migrator;
  target.session_pool = recorded.session_pool;
  // The trial's entry: the suite runs `trials` trials of each entry in order.
  const auto position = static_cast<std::size_t>(target.trial_index / target.spec.trials);
  if (position >= target.spec.scenarios.size() ||
      target.spec.scenarios[position].scenario != target.scenario) {
    throw UsageError(fmt::format("{}: trial {} does not match the suite it says it ran in",
                                 run_dir.string(), target.trial_index));
  }
  target.entry = target.spec.scenarios[position];
  return target;
}

std::vector<RunOperation> run_operations(const history::History& history) {
  std::vector<RunOperation> ops;
  for (const auto& event : history.events()) {
    if (event.type != history::EventType::invoke || event.phase != history::phase_run) continue;
    ops.push_back({event.op, event.worker, event.client, event.user, event.kind});
  }
  return ops;
}

engine::ScenarioEntry entry_for(const ShrinkTarget& target, const Candidate& candidate) {
  engine::ScenarioEntry entry = target.entry;
  entry.overrides = candidate.overrides;
  engine::TrialReplay replay;
  replay.seed = target.trial_seed;
  if (candidate.faults) replay.faults.emplace(candidate.faults->begin(), candidate.faults->end());
  if (candidate.operations) {
    replay.operations.emplace(candidate.operations->begin(), candidate.operations->end());
  }
  entry.replay = std::move(replay);
  return entry;
}

std::string StorySize::text() const {
  return fmt::format("{} fault{}, {} operation{}, {} worker{}, {} client{}", faults,
                     faults == 1 ? "" : "s", operations, operations == 1 ? "" : "s", workers,
                     workers == 1 ? "" : "s", clients, clients == 1 ? "" : "s");
}

std::vector<int> fault_entries(const json& fault_plan) {
  std::vector<int> indexes;
  for (std::size_t i = 0; i < fault_plan.size(); ++i) {
    const auto& entry = fault_plan[i];
    if (entry.value("kind", "") == "interleaving" || entry.value("left_out", false)) continue;
    indexes.push_back(static_cast<int>(i));
  }
  return indexes;
}

StorySize size_of(const results::TrialResult& trial) {
  StorySize size;
  size.faults = static_cast<int>(fault_entries(trial.fault_plan).size());
  std::set<int> workers;
  std::set<std::pair<int, int>> clients;
  for (const auto& op : run_operations(trial.history)) {
    ++size.operations;
    workers.insert(op.worker);
    clients.insert({op.worker, op.client});
  }
  size.workers = static_cast<int>(workers.size());
  size.clients = static_cast<int>(clients.size());
  return size;
}

bool breaks(const results::TrialResult& trial, const std::string& invariant) {
  for (const auto& result : trial.invariants) {
    if (result.name == invariant) return result.verdict.validity == results::Validity::invalid;
  }
  return false;
}

}  // namespace orgquake::shrink
