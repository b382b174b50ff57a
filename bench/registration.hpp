#pragma once

#include <string>

#include <benchmark/benchmark.h>

#include "bench/bench_environment.hpp"
#include "bench/bench_settings.hpp"
#include "core/interrupt.hpp"

namespace orgquake::bench {

// Each family registers its benchmarks against the environment, so that
// they share one database, one set of fakes and one worker pool.
void register_floor_benchmarks(BenchEnvironment& env);
void register_lookup_benchmarks(BenchEnvironment& env);
void register_concurrent_lookup_benchmarks(BenchEnvironment& env);
void register_migrate_benchmarks(BenchEnvironment& env, const BenchSettings& settings);

/// A benchmark that waits on the network: wall-clock time decides how many
/// iterations run (CPU time of a thread that waits would run it far too
/// long) and is what the results report, in microseconds.
template <typename Function>
benchmark::internal::Benchmark* register_io_benchmark(const std::string& name, Function function) {
  return benchmark::RegisterBenchmark(name.c_str(), function)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
}

/// After Ctrl-C (or SIGTERM from `orgquake bench`) the remaining iterations
/// do nothing, so that the run ends at once and main stops the servers it
/// started. (Skipping with SkipWithError instead would abort Google
/// Benchmark 1.7.1, which checks that repetitions ran equal iteration counts.)
inline bool interrupted() {
  return pending_interrupt() != 0;
}

}  // namespace orgquake::bench
