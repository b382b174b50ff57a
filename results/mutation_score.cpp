#include "results/mutation_score.hpp"

namespace orgquake::results {

BugOutcome outcome_of(BugDescription bug, const RunResult& run, const std::string& out_dir) {
  BugOutcome outcome;
  outcome.bug = std::move(bug);
  outcome.run_verdict = run.verdict;
  outcome.duration_s = run.duration_s;
  outcome.out_dir = out_dir;
  for (const auto& trial : run.trials) {
    ++outcome.trials;
    if (trial.verdict == Validity::unknown) ++outcome.unknown_trials;
    if (trial.verdict != Validity::invalid) continue;
    ++outcome.invalid_trials;
    ++outcome.invalid_by_scenario[trial.scenario];
    for (const auto& invariant : trial.invariants) {
      if (invariant.verdict.validity != Validity::invalid) continue;
      ++outcome.invalid_by_invariant[invariant.name];
      if (outcome.first_evidence.empty()) {
        outcome.first_evidence =
            invariant.name + ": " +
            (invariant.verdict.evidence.empty() ? invariant.verdict.summary
                                                : invariant.verdict.evidence.front().what);
      }
    }
    if (outcome.first_repro.empty()) outcome.first_repro = trial.repro_command;
  }
  return outcome;
}

int MutationScore::must_catch() const {
  int n = 0;
  for (const auto& b : bugs) n += b.equivalent() ? 0 : 1;
  return n;
}

int MutationScore::caught() const {
  int n = 0;
  for (const auto& b : bugs) n += !b.equivalent() && b.caught() ? 1 : 0;
  return n;
}

int MutationScore::exit_code() const {
  if (control.run_verdict != Validity::valid || !control.error.empty()) return 2;
  return caught() == must_catch() ? 0 : 1;
}

namespace {

nlohmann::json outcome_json(const BugOutcome& o) {
  return {{"migrator", o.bug.migrator},
          {"summary", o.bug.summary},
          {"source", o.bug.source},
          {"equivalent_because", o.bug.equivalent_because},
          {"caught", o.caught()},
          {"run_verdict", name_of(o.run_verdict)},
          {"trials", o.trials},
          {"invalid_trials", o.invalid_trials},
          {"unknown_trials", o.unknown_trials},
          {"invalid_by_invariant", o.invalid_by_invariant},
          {"invalid_by_scenario", o.invalid_by_scenario},
          {"first_repro", o.first_repro},
          {"first_evidence", o.first_evidence},
          {"error", o.error},
          {"out_dir", o.out_dir},
          {"duration_s", o.duration_s}};
}

}  // namespace

nlohmann::json MutationScore::to_json() const {
  auto entries = nlohmann::json::array();
  for (const auto& b : bugs) entries.push_back(outcome_json(b));
  return {{"suite", suite},
          {"seed", seed},
          {"git_sha", git_sha},
          {"started_at", started_at},
          {"duration_s", duration_s},
          {"must_catch", must_catch()},
          {"caught", caught()},
          {"score", must_catch() == 0 ? 1.0 : static_cast<double>(caught()) / must_catch()},
          {"control", outcome_json(control)},
          {"bugs", entries}};
}

}  // namespace orgquake::results
