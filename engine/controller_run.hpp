#pragma once

// The controller's top level: start the services, build the fixture world
// and its template database once, then run each trial of the suite (run,
// heal, liveness, invariants) and collect the results.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/migrator_catalog.hpp"
#include "engine/suite_spec.hpp"
#include "results/run_result.hpp"
#include "services/services.hpp"

namespace orgquake::engine {

struct RunRequest {
  SuiteSpec spec;
  std::uint64_t seed = 0;
  /// The migrator under test (a built-in one by default).
  MigratorDeclaration migrator = MigratorCatalog::with_built_ins().find("reference");
  /// Only this scenario of the suite (--scenario).
  std::optional<std::string> scenario;
  /// Only the trial with this index (repro); indexes are those of the full suite.
  std::optional<int> trial;
  std::filesystem::path out_dir;
  services::ServicesOptions services;
  /// Only the K-th of N disjoint slices of the selected trials (--shard K/N):
  /// those whose index is K-1 modulo N.
  std::optional<results::Shard> shard;
  /// Only these trial indexes, run in the order given (a lane of a parallel
  /// run is given its run's queue).
  std::optional<std::vector<int>> only_trials;
  /// Picks the index of the next trial to run, among those selected; none
  /// ends the run. The lanes of a parallel run share one queue: each runs
  /// the trials it claims (LaneQueue). Unset: every selected trial, in order.
  std::function<std::optional<int>()> next_trial;
  /// Print a line per trial, and a progress line while one runs on a terminal.
  bool progress = true;
  /// Called with each trial as it finishes (a lane hands it to its parent).
  std::function<void(const results::TrialResult&)> on_trial;
};

/// A trial the request selects, before it runs.
struct PlannedTrialInfo {
  int index = 0;
  std::string scenario;
  std::uint64_t seed = 0;
};

/// The trials `request` runs, in index order (in `only_trials`' order when
/// given), after checking what can be
/// checked before anything starts (scenarios, invariants, the selection).
/// Throws UsageError (exit 2).
std::vector<PlannedTrialInfo> plan_run(const RunRequest& request);

/// The run's header fields (seed, suite, migrator, spec, git sha, start time,
/// shard) as run_suite fills them; trials and verdict are left empty.
results::RunResult run_header(const RunRequest& request,
                              const MigratorUnderTest& migrator_under_test);

/// The line a run prints for a finished trial: "[3/22] scenario seed ...
/// valid 1.2 s ...", then what broke and the replay command when not valid.
void print_trial_line(const results::TrialResult& result, std::size_t position, std::size_t total);

/// Runs the trials; throws UsageError / EnvironmentError for bad input or a
/// broken environment (exit 2), Interrupted on Ctrl-C (everything started is
/// stopped by then).
results::RunResult run_suite(const RunRequest& request);

/// What a run sets up once for all its trials: the migrator under test
/// (started once to declare itself), the services, the fixture world of the
/// run's seed and its template database. run_suite runs a suite's trials in
/// one; `orgquake shrink` runs its many candidate replays in one.
class RunSession {
 public:
  struct Setup {
    std::uint64_t seed = 0;  ///< the run's: the fixture world is drawn from it
    int users = 200;
    MigratorDeclaration migrator;
    services::ServicesOptions services;
    std::filesystem::path out_dir;  ///< worker logs go to out_dir/logs
  };
  /// Throws UsageError / EnvironmentError (exit 2); nothing is left running.
  explicit RunSession(const Setup& setup);
  ~RunSession();
  RunSession(const RunSession&) = delete;
  RunSession& operator=(const RunSession&) = delete;

  /// Runs one trial of `entry` (spec: the suite's options and invariants),
  /// judged by every invariant the spec selects.
  results::TrialResult run_trial(const SuiteSpec& spec, const ScenarioEntry& entry, int index,
                                 std::uint64_t trial_seed);
  const MigratorUnderTest& migrator() const;
  std::size_t world_users() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// The seed of trial `k` of `scenario` in a run seeded `run_seed`.
std::uint64_t trial_seed(std::uint64_t run_seed, std::string_view scenario, int k);

/// The commit the binary was built from, or "unknown".
std::string git_sha();

}  // namespace orgquake::engine
