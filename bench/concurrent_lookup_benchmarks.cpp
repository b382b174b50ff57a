// lookup/concurrent/clients:<C>: C clients (fibers with their own
// connections, over 2 worker threads) doing fast-path joined lookups of
// migrated users at once. Each iteration is one lookup, so the reported time
// is wall time per lookup across all clients (1 / throughput); lookups_per_s,
// p50_us and p99_us are the figures to read.
#include <chrono>

#include <fmt/format.h>

#include "bench/latency_samples.hpp"
#include "bench/lookup_worker_pool.hpp"
#include "bench/registration.hpp"

namespace orgquake::bench {
namespace {

// Each client does this many lookups per round, so that the round's start
// and end (when fewer than C clients are busy) are a small part of it.
constexpr std::int64_t kLookupsPerClientPerRound = 8;

void concurrent_lookups(BenchEnvironment& env, int clients) {
  register_io_benchmark(
      fmt::format("lookup/concurrent/clients:{}", clients),
      [&env, clients](benchmark::State& state) {
        auto& pool = env.worker_pool();
        const std::int64_t round = clients * kLookupsPerClientPerRound;
        LatencySamples samples;
        int errors = 0;
        std::string first_error;
        const auto start = std::chrono::steady_clock::now();
        while (state.KeepRunningBatch(round)) {
          if (interrupted()) continue;
          auto result = pool.run_round(clients, round);
          samples.add_us(result.latency_us);
          errors += result.errors;
          if (first_error.empty()) first_error = result.first_error;
        }
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        samples.report(state);
        state.counters["lookups_per_s"] = static_cast<double>(samples.size()) / seconds;
        state.counters["errors"] = errors;
        state.counters["clients"] = clients;
        // A failed lookup is reported through this counter, not
        // SkipWithError: Google Benchmark 1.7.1 aborts when one repetition
        // skips and another does not. The results reader treats errors > 0
        // as a failed benchmark; the first failure goes to the log.
        if (errors > 0) {
          fmt::print(stderr, "lookup/concurrent/clients:{}: {} of {} lookups failed; first: {}\n",
                     clients, errors, state.iterations(), first_error);
        }
      });
}

}  // namespace

void register_concurrent_lookup_benchmarks(BenchEnvironment& env) {
  for (const int clients : {1, 16, 64, 256}) concurrent_lookups(env, clients);
}

}  // namespace orgquake::bench
