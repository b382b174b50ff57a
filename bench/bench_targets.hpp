#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/bench_results.hpp"

namespace orgquake::bench {

/// One of the targets the benchmarks issue sets, judged on one run.
struct TargetCheck {
  std::string target;       ///< what should hold
  std::string measured;     ///< what the run measured, in words
  std::optional<bool> met;  ///< nullopt: the run did not measure it (filtered, failed)
};

/// Eager loading at least 10x faster than N+1 at 16 memberships, the fast
/// path of a migrated user within 1.3x of one round trip, and 256
/// concurrent clients without errors.
std::vector<TargetCheck> check_targets(const BenchRun& run);

}  // namespace orgquake::bench
