#pragma once

// What a run produced, as the report writers (reports/) consume it. The
// engine fills it; nothing downstream reaches back into the engine.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "history/history.hpp"
#include "results/verdict.hpp"

namespace orgquake::results {

/// Counters that show a trial exercised what it claims to.
struct TrialStats {
  int max_concurrent_lookups = 0;               ///< from the history: lookups in flight at once
  int lock_waits = 0;                           ///< lock attempts that found the lock held
  int crashes = 0;                              ///< worker processes killed (SIGKILL)
  int pauses = 0;                               ///< worker processes stopped (SIGSTOP)
  int operations = 0;                           ///< operations invoked, every phase
  int ok = 0, failed = 0, unknown_outcome = 0;  ///< completions: ok / fail / info
  int faults = 0;                               ///< fault events of every kind
  int failpoint_hits = 0;                       ///< failpoint firings recorded

  nlohmann::json to_json() const;
};

struct InvariantResult {
  std::string name;
  results::Verdict verdict;
};

struct TrialResult {
  int index = 0;  ///< position in the run, from 0
  std::string scenario;
  std::uint64_t seed = 0;  ///< the trial's own seed (derived from the run's)
  results::Validity verdict = results::Validity::valid;  ///< worst of `invariants` and `error`
  std::vector<InvariantResult> invariants;
  /// A harness failure that kept the trial from being judged (verdict unknown).
  std::string error;
  TrialStats stats;
  /// The faults the trial planned from its seed, before it ran: equal seeds,
  /// equal plans.
  nlohmann::json fault_plan = nlohmann::json::array();
  /// The scenario's seeded choices that are not faults (which users race).
  nlohmann::json choices = nlohmann::json::array();
  /// The failpoint firings the controller decided on (crash, pause, error,
  /// ordering), in the order it granted them: "w1.c0 lock.after_acquire -> crash".
  std::vector<std::string> failpoint_order;
  /// The options the scenario ran with (after suite defaults and overrides).
  nlohmann::json options = nlohmann::json::object();
  double duration_s = 0;
  /// The command that replays this trial.
  std::string repro_command;
  history::History history;
};

/// Which of a suite's disjoint slices a run ran (`orgquake run --shard K/N`):
/// the trials whose index is K-1 modulo N.
struct Shard {
  int index = 1;  ///< K, from 1
  int count = 1;  ///< N
};

struct RunResult {
  std::uint64_t seed = 0;
  std::string suite;  ///< suite name, or the spec file's stem
  std::string migrator;
  /// How its workers were started (MigratorDeclaration::to_json), so that
  /// repro starts the same command, and what they declared of themselves.
  nlohmann::json migrator_declaration = nlohmann::json::object();
  nlohmann::json migrator_description = nlohmann::json::object();
  int users = 0;  ///< fixture world size
  results::Validity verdict = results::Validity::valid;
  double duration_s = 0;
  std::string git_sha;     ///< "unknown" outside a git checkout
  std::string started_at;  ///< ISO 8601, UTC
  std::string out_dir;
  /// Whether clients reached PostgreSQL through the harness's session pool
  /// (`run --no-session-pool`, or an external server: each client its own
  /// connection); repro and shrink do as the run did.
  bool session_pool = true;
  /// The suite as it ran (SuiteSpec::to_json), so that repro can rebuild it.
  nlohmann::json spec = nlohmann::json::object();
  std::vector<TrialResult> trials;
  /// Set when the run was one shard of its suite; `orgquake merge` joins them.
  std::optional<Shard> shard;
  /// A story told above the trials (`orgquake shrink`: what the shrunk trial
  /// does and breaks); empty for a plain run.
  std::string story_title;
  std::vector<std::string> story;
};

}  // namespace orgquake::results
