#pragma once

// The order of a failing replay's steps across operations, as a named
// interleaving (engine/interleaving.hpp) that `orgquake shrink` can enforce
// and reduce: DEMi's second stage, after the external events, reduces the
// internal schedule; here the schedule is where the run phase's operations
// took turns at their failpoints.

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "engine/interleaving.hpp"
#include "history/history.hpp"

namespace orgquake::shrink {

/// For each place where, in time order, the run phase's first firings of
/// each failpoint by each of `operations` pass from one operation to
/// another, the pair "a@x -> b@y": x's step a came just before y's step b.
/// Enforced together, they replay the order of the steps that took turns.
std::vector<engine::HappensBefore> turn_pairs(const history::History& history,
                                              const std::set<std::int64_t>& operations);

/// The pairs as an `interleaving` option: "a@1 -> b@2; c@2 -> d@1".
std::string interleaving_text(const std::vector<engine::HappensBefore>& pairs);

}  // namespace orgquake::shrink
