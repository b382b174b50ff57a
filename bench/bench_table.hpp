#pragma once

#include <string>
#include <vector>

#include "bench/baseline_comparison.hpp"
#include "bench/bench_results.hpp"

namespace orgquake::bench {

/// A duration for people: "0.32 ns", "41.3 us", "2.41 ms", "1.20 s".
std::string human_nanoseconds(double ns);

/// The run as a text table, one row per benchmark: its median, its ratio to
/// its floor (x floor), the repetitions' noise, p50 and p99 where measured,
/// and lookups/s for the concurrent ones. With `comparisons`, also the
/// baseline's figure, the change, the margin and the verdict.
std::string format_table(const BenchRun& run, const std::vector<Comparison>* comparisons = nullptr);

}  // namespace orgquake::bench
