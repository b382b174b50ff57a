#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "bench/bench_results.hpp"

namespace orgquake::bench {

/// The floor a benchmark's time is divided by: the round trip its work
/// cannot go below, measured in the same run, so that the ratio survives a
/// slower or busier machine. Lookups and migrations: floor/pg_select1.
/// The floors themselves and CPU-only benchmarks (failpoint/*) have none.
std::optional<std::string> floor_for(std::string_view name);

/// floor/*: the yardsticks, reported but not gated.
bool is_floor(std::string_view name);

/// What a benchmark is judged by: its median as a multiple of its floor's
/// median (or, without a floor, its median in nanoseconds), and how noisy
/// that figure is in this run.
struct Figure {
  double value = 0;
  bool is_ratio = false;
  /// Relative noise of `value`: the repetitions' spreads (BenchResult::noise)
  /// of the benchmark and of its floor, combined as independent errors.
  double noise = 0;
};

/// nullopt when the benchmark failed, or its floor is missing or failed.
std::optional<Figure> figure_of(const BenchRun& run, const BenchResult& result);

}  // namespace orgquake::bench
