#include "results/known_bugs.hpp"

#include <algorithm>

namespace orgquake::results {

std::vector<KnownBugMatch> match_known_bugs(const RunResult& run,
                                            const std::vector<KnownBugSignature>& catalog) {
  std::vector<KnownBugMatch> matches;
  for (const auto& bug : catalog) {
    KnownBugMatch match{bug.name, {}, 0, "", ""};
    for (const auto& trial : run.trials) {
      bool in_trial = false;
      for (const auto& invariant : trial.invariants) {
        if (invariant.verdict.validity != Validity::invalid) continue;
        for (const auto& evidence : invariant.verdict.evidence) {
          const std::string code = invariant.name + "/" + evidence.symptom;
          if (std::find(bug.symptoms.begin(), bug.symptoms.end(), code) == bug.symptoms.end())
            continue;
          if (!in_trial && match.trials == 0) {
            match.first_repro = trial.repro_command;
            match.first_evidence = evidence.what;
          }
          in_trial = true;
          if (std::find(match.symptoms_seen.begin(), match.symptoms_seen.end(), code) ==
              match.symptoms_seen.end())
            match.symptoms_seen.push_back(code);
        }
      }
      match.trials += in_trial;
    }
    if (match.trials == 0) continue;
    // In the signature's order, so that equal runs print equal lines.
    std::stable_sort(match.symptoms_seen.begin(), match.symptoms_seen.end(),
                     [&bug](const std::string& a, const std::string& b) {
                       return std::find(bug.symptoms.begin(), bug.symptoms.end(), a) <
                              std::find(bug.symptoms.begin(), bug.symptoms.end(), b);
                     });
    matches.push_back(std::move(match));
  }
  return matches;
}

}  // namespace orgquake::results
