#pragma once

// What `orgquake shrink` starts from: one failing trial of a finished run,
// read from its results.json, and what a candidate reduction of it is.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/migrator_catalog.hpp"
#include "engine/suite_spec.hpp"
#include "results/run_result.hpp"

namespace orgquake::shrink {

struct ShrinkTarget {
  std::filesystem::path run_dir;
  engine::SuiteSpec spec;  ///< the suite as it ran
  std::uint64_t run_seed = 0;
  engine::MigratorDeclaration migrator;
  bool session_pool = true;  ///< whether the run's clients went through the session pool
  int trial_index = 0;
  std::string scenario;
  std::uint64_t trial_seed = 0;
  engine::ScenarioEntry entry;  ///< the trial's entry in the suite, as it ran
  /// The invariant the shrunk trial must still break: the first the
  /// original found invalid, or the one asked for.
  std::string invariant;
  std::string original_verdict;
};

/// What `orgquake run --spec SHRUNK` needs after the spec to replay the shrunk
/// trial as the run reached its database: "" or " --no-session-pool".
inline const char* replay_flags(const ShrinkTarget& target) {
  return target.session_pool ? "" : " --no-session-pool";
}

/// Reads `run_dir`/results.json and picks trial `trial` (default: the first
/// whose verdict is invalid). `invariant`: the one to keep invalid (default:
/// the trial's first invalid one). Throws UsageError for a directory without
/// results, without a failing trial, or a trial that did not fail.
ShrinkTarget load_target(const std::filesystem::path& run_dir, std::optional<int> trial,
                         const std::optional<std::string>& invariant);

/// One operation of the run phase, as the history showed it.
struct RunOperation {
  std::int64_t op = -1;
  int worker = -1, client = -1;
  std::string user, kind;
};
/// The run phase's operations of a trial, by their invokes.
std::vector<RunOperation> run_operations(const history::History& history);

/// A reduction of the target: what acts and runs, and the options changed.
struct Candidate {
  std::optional<std::set<int>> faults;                  ///< plan entry indexes that act; none: all
  std::optional<std::set<std::int64_t>> operations;     ///< none: every one
  nlohmann::json overrides = nlohmann::json::object();  ///< the entry's options
};

/// The suite entry that replays `candidate` of `target`.
engine::ScenarioEntry entry_for(const ShrinkTarget& target, const Candidate& candidate);

/// How big a trial's story is: what the invariant's evidence has to be read against.
struct StorySize {
  int faults = 0, operations = 0, workers = 0, clients = 0;
  std::string text() const;  ///< "3 faults, 12 operations, 2 workers, 4 clients"
};
/// The faults that acted by plan (left-out and interleaving entries are not
/// faults) and the operations, workers and clients of the run phase.
StorySize size_of(const results::TrialResult& trial);
/// Indexes of the plan entries that are faults a replay may leave out.
std::vector<int> fault_entries(const nlohmann::json& fault_plan);

/// Whether `trial` broke `invariant`.
bool breaks(const results::TrialResult& trial, const std::string& invariant);

}  // namespace orgquake::shrink
