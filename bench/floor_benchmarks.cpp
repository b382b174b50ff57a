// The physical floor, measured in the same run as everything it divides: one
// round trip to PostgreSQL and one to Redis over loopback, through the same
// clients the migrator uses.
#include <charconv>
#include <string>

#include <fmt/format.h>

#include "bench/latency_samples.hpp"
#include "bench/registration.hpp"
#include "migrator/loading.hpp"

namespace orgquake::bench {

namespace {

// "Execution Time: 0.018 ms", the last line of EXPLAIN ANALYZE, in seconds.
std::optional<double> execution_seconds(const io::PgResult& plan) {
  constexpr std::string_view label = "Execution Time: ";
  for (int row = plan.rows() - 1; row >= 0; --row) {
    const std::string_view line = plan.text(row, 0);
    if (!line.starts_with(label)) continue;
    double ms = 0;
    const auto digits = line.substr(label.size());
    if (std::from_chars(digits.data(), digits.data() + digits.size(), ms).ec != std::errc{}) break;
    return ms / 1000;
  }
  return std::nullopt;
}

}  // namespace

void register_floor_benchmarks(BenchEnvironment& env) {
  register_io_benchmark("floor/pg_select1", [&env](benchmark::State& state) {
    auto& pg = env.main_client().pg;
    time_each_iteration(state, [&] { benchmark::DoNotOptimize(pg.exec("SELECT 1")); });
  });
  register_io_benchmark("floor/redis_ping", [&env](benchmark::State& state) {
    auto& redis = env.main_client().redis;
    time_each_iteration(state, [&] { benchmark::DoNotOptimize(redis.command({"PING"})); });
  });
  // bound/joined_executor: what PostgreSQL's executor alone spends on the
  // fast path's one statement, as EXPLAIN ANALYZE reports it for the very
  // prepared plan the lookup runs (timed as the server's own Execution
  // Time, not as the round trip). floor/pg_select1 plus this is as fast as
  // the fast path can be without asking the database for less.
  benchmark::RegisterBenchmark(
      "bound/joined_executor",
      [&env](benchmark::State& state) {
        auto& pg = env.main_client().pg;
        const std::string& id = env.user_with_memberships(1);
        const std::string statement = migrator::joined_lookup_statement();
        pg.exec_prepared(statement, {id});  // prepared on this connection, as for the lookup
        std::string literal;
        for (char c : id) literal += c == '\'' ? std::string("''") : std::string(1, c);
        const std::string explain =
            fmt::format("EXPLAIN (ANALYZE, TIMING OFF, COSTS OFF) EXECUTE {}('{}')",
                        io::PgConnection::prepared_statement_name(statement), literal);
        LatencySamples samples;
        for (auto _ : state) {
          if (interrupted()) {
            state.SetIterationTime(0);
            continue;
          }
          const auto seconds = execution_seconds(pg.exec(explain));
          if (!seconds) {
            state.SkipWithError("EXPLAIN ANALYZE printed no Execution Time");
            break;
          }
          state.SetIterationTime(*seconds);
          samples.add(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
              std::chrono::duration<double>(*seconds)));
        }
        samples.report(state);
      })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
}

}  // namespace orgquake::bench
