#include "bench/latency_samples.hpp"

#include <algorithm>
#include <cmath>

namespace orgquake::bench {

double LatencySamples::percentile(double q) const {
  if (samples_us_.empty()) return 0;
  std::vector<double> sorted = samples_us_;
  // Nearest rank: the smallest sample with at least q of the samples at or below it.
  const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  const std::size_t index = std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1);
  std::nth_element(sorted.begin(), sorted.begin() + static_cast<std::ptrdiff_t>(index),
                   sorted.end());
  return sorted[index];
}

void LatencySamples::report(benchmark::State& state) const {
  state.counters["p50_us"] = percentile(0.50);
  state.counters["p99_us"] = percentile(0.99);
}

}  // namespace orgquake::bench
