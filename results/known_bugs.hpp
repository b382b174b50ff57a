#pragma once

// Findings matched to the known bug classes of the catalog: each class lists
// the evidence it shows when caught (its signature, as "invariant/symptom"),
// and a run's invalid evidence names every class whose signature it meets.
// A symptom several classes share names them all: the match says which
// classes fit the evidence, not which one is the cause.
#include <string>
#include <vector>

#include "results/run_result.hpp"

namespace orgquake::results {

/// What the catalog says of one class; the engine's caller copies it in, as
/// for BugDescription, so that the results model does not know the migrators.
struct KnownBugSignature {
  std::string name;                   ///< the catalog entry, without "bug:"
  std::vector<std::string> symptoms;  ///< "invariant/symptom"
};

struct KnownBugMatch {
  std::string name;
  std::vector<std::string> symptoms_seen;  ///< of its signature, in signature order
  int trials = 0;                          ///< trials with any of them
  std::string first_repro;                 ///< the repro command of the first
  std::string first_evidence;              ///< the first matching evidence line
};

/// The classes whose signature some invalid evidence of `run` meets, in
/// catalog order.
std::vector<KnownBugMatch> match_known_bugs(const RunResult& run,
                                            const std::vector<KnownBugSignature>& catalog);

}  // namespace orgquake::results
