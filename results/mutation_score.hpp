#pragma once

// The mutation score of a suite: the suite run against the reference (the
// control, which must stay valid) and against every entry of the bug
// catalog, and for each entry whether some trial turned invalid, which
// invariants and scenarios caught it, and how to replay the first catch.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "results/run_result.hpp"

namespace orgquake::results {

/// What the catalog says of one entry; the results model does not know the
/// migrator library, so the engine's caller copies it in.
struct BugDescription {
  std::string migrator;  ///< "bug:NAME", or "reference" for the control
  std::string summary;
  std::string source;
  std::string equivalent_because;  ///< empty unless argued equivalent
};

/// One migrator's run of the suite, reduced to what the score needs.
struct BugOutcome {
  BugDescription bug;
  Validity run_verdict = Validity::valid;
  int trials = 0, invalid_trials = 0, unknown_trials = 0;
  std::map<std::string, int> invalid_by_invariant;  ///< invariant -> trials it found invalid
  std::map<std::string, int> invalid_by_scenario;   ///< scenario -> invalid trials
  std::string first_repro;     ///< the repro command of the first invalid trial
  std::string first_evidence;  ///< what the first invalid invariant of it saw
  std::string error;           ///< a run that could not finish (harness error)
  std::string out_dir;         ///< where the run's own report is
  double duration_s = 0;

  bool caught() const { return invalid_trials > 0; }
  bool equivalent() const { return !bug.equivalent_because.empty(); }
};

/// Reduces a finished run.
BugOutcome outcome_of(BugDescription bug, const RunResult& run, const std::string& out_dir);

struct MutationScore {
  std::string suite;
  std::uint64_t seed = 0;
  std::string git_sha;
  std::string started_at;
  double duration_s = 0;
  BugOutcome control;  ///< the reference migrator: must be valid
  std::vector<BugOutcome> bugs;

  int must_catch() const;  ///< entries not argued equivalent
  int caught() const;      ///< of those, the caught ones
  /// 0: the control valid and every entry that must be caught caught;
  /// 1: some entry escaped; 2: the control was not valid (the score means nothing).
  int exit_code() const;
  nlohmann::json to_json() const;
};

}  // namespace orgquake::results
