#pragma once

// A run's results as JSON and back: what results.json holds, and what a
// trial of a parallel lane hands its parent. Reading back is what lets runs
// made apart (lanes of `--jobs`, shards of `--shard`) be joined into one.

#include <filesystem>
#include <optional>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/run_result.hpp"

namespace orgquake::results {

/// A trial as results.json lists it (the history is not in it).
nlohmann::json trial_to_json(const TrialResult& trial);
/// A trial read back from trial_to_json's shape, with an empty history.
/// Throws nlohmann::json::exception for a shape it does not know.
TrialResult trial_from_json(const nlohmann::json& json);

/// A trial with its history (key "history": the events, in order): what a
/// lane writes for each trial it ran.
nlohmann::json trial_with_history_to_json(const TrialResult& trial);
TrialResult trial_with_history_from_json(const nlohmann::json& json);

/// The whole run, as results.json holds it.
nlohmann::json run_to_json(const RunResult& run);
/// The run read back from run_to_json's shape; trials have empty histories.
RunResult run_from_json(const nlohmann::json& json);

}  // namespace orgquake::results
