#pragma once

// The story of a trial, told for a person: what the run phase did, in time
// order (operations and their outcomes, the faults, the controller's
// decisions at gated failpoints), then the broken invariant and its
// evidence. `orgquake shrink` tells it for the trial it shrank to.

#include <cstddef>
#include <string>
#include <vector>

#include "results/run_result.hpp"

namespace orgquake::shrink {

/// One line per event; a long run phase is cut after `max_events` lines
/// with a count of the rest.
std::vector<std::string> story_of(const results::TrialResult& trial, const std::string& invariant,
                                  std::size_t max_events = 60);

}  // namespace orgquake::shrink
