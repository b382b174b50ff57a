// The physical floor, measured in the same run as everything it divides: one
// round trip to PostgreSQL and one to Redis over loopback, through the same
// clients the migrator uses.
#include "bench/latency_samples.hpp"
#include "bench/registration.hpp"

namespace orgquake::bench {

void register_floor_benchmarks(BenchEnvironment& env) {
  register_io_benchmark("floor/pg_select1", [&env](benchmark::State& state) {
    auto& pg = env.main_client().pg;
    time_each_iteration(state, [&] { benchmark::DoNotOptimize(pg.exec("SELECT 1")); });
  });
  register_io_benchmark("floor/redis_ping", [&env](benchmark::State& state) {
    auto& redis = env.main_client().redis;
    time_each_iteration(state, [&] { benchmark::DoNotOptimize(redis.command({"PING"})); });
  });
}

}  // namespace orgquake::bench
