#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "bench/baseline_comparison.hpp"
#include "bench/bench_results.hpp"

namespace orgquake::reports {

/// A self-contained HTML page of a benchmark run: lookup latency against
/// membership count for each loading strategy (with the round-trip floor),
/// the concurrency curve (lookups/s, p50 and p99 against clients), and the
/// table of every result. Inline SVG and CSS only: no script, nothing
/// fetched, so it opens from a CI artifact as it is.
std::string bench_html(const bench::BenchRun& run,
                       const std::vector<bench::Comparison>* comparisons = nullptr);

/// Writes bench_html() to `path`; throws EnvironmentError if it cannot.
void write_bench_html(const std::filesystem::path& path, const bench::BenchRun& run,
                      const std::vector<bench::Comparison>* comparisons = nullptr);

}  // namespace orgquake::reports
