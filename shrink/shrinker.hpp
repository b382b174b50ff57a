#pragma once

// `orgquake shrink`: a failing trial reduced to the smallest story that
// still breaks the same invariant (docs/shrinking.md).
//
// The trial is replayed from its seed on fresh trial databases and fakes.
// Its scenario makes every choice again, so operations and plan entries
// keep their numbers, and a candidate says which of them act and run
// (engine::TrialReplay): removing one fault does not move another. Delta
// debugging (ddmin) runs over the fault plan first, then over the run
// phase's operations by worker, by client, by user and one by one, then
// the scenario's duration options are tried at their defaults; the rounds
// repeat until one changes nothing. A candidate still fails when the
// invariant is invalid in at least one of its K replays. Last, where the
// order of the remaining operations' steps matters, the order that makes
// it fail every time is named as an interleaving (shrink/step_order.hpp)
// and reduced to the pairs it needs. The result is replayed again to
// measure how often it fails.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "results/run_result.hpp"
#include "services/services.hpp"
#include "shrink/shrink_target.hpp"

namespace orgquake::shrink {

struct ShrinkRequest {
  std::filesystem::path run_dir;
  std::optional<int> trial;              ///< default: the first invalid trial
  std::optional<std::string> invariant;  ///< default: the trial's first invalid one
  /// Replays per candidate; none: chosen from how often the original fails
  /// in the baseline replays.
  std::optional<int> runs;
  std::chrono::seconds budget{900};
  int baseline_runs = 3;
  int confirm_runs = 10;          ///< replays of the result, to measure its failure rate
  std::filesystem::path out_dir;  ///< default: run_dir/shrink-trial-N
  services::ServicesOptions services;
  bool progress = true;
};

struct ShrinkResult {
  ShrinkTarget target;
  int baseline_failures = 0, baseline_runs = 0;
  int runs_per_candidate = 0;
  StorySize before, after;
  int candidates = 0;  ///< candidate reductions replayed
  double elapsed_s = 0;
  bool one_minimal = false;
  bool out_of_budget = false;
  std::vector<std::string> option_changes;  ///< "lock_ttl_ms: 1000 -> 2000"
  /// The named interleaving the shrunk trial enforces ("" for none), and
  /// what the search for one found, in a sentence.
  std::string interleaving;
  std::string interleaving_finding;
  int confirm_failures = 0, confirm_runs = 0;
  std::filesystem::path spec_path;
  std::vector<std::string> story;
  /// The confirming replays, for the run files (report.html tells the story).
  results::RunResult confirm_run;
};

/// Throws UsageError (exit 2) for a directory with nothing to shrink, or a
/// trial that breaks its invariant in none of the baseline replays (the
/// message gives the rate).
ShrinkResult shrink(const ShrinkRequest& request);

}  // namespace orgquake::shrink
