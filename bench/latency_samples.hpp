#pragma once

#include <chrono>
#include <vector>

#include <benchmark/benchmark.h>

#include "core/interrupt.hpp"

namespace orgquake::bench {

/// Per-operation latencies of one benchmark run, reported as the p50_us and
/// p99_us counters: the spread that a mean per iteration hides (a lookup
/// that waits for a lock, a backend that was descheduled).
class LatencySamples {
 public:
  void add(std::chrono::steady_clock::duration latency) {
    samples_us_.push_back(std::chrono::duration<double, std::micro>(latency).count());
  }
  void add_us(const std::vector<double>& latencies_us) {
    samples_us_.insert(samples_us_.end(), latencies_us.begin(), latencies_us.end());
  }
  std::size_t size() const { return samples_us_.size(); }

  /// The nearest-rank percentile, q in [0, 1]; 0 without samples.
  double percentile(double q) const;

  /// Sets state.counters["p50_us"] and ["p99_us"].
  void report(benchmark::State& state) const;

 private:
  std::vector<double> samples_us_;
};

/// Runs the benchmark loop, timing each iteration of `body` for the p50/p99
/// counters (two clock reads, ~40 ns, against a round trip of tens of us).
template <typename Body>
void time_each_iteration(benchmark::State& state, Body&& body) {
  LatencySamples samples;
  for (auto _ : state) {
    if (pending_interrupt() != 0) continue;  // end the run quickly
    const auto start = std::chrono::steady_clock::now();
    body();
    samples.add(std::chrono::steady_clock::now() - start);
  }
  samples.report(state);
}

}  // namespace orgquake::bench
