// migrate/one_user: the full migration of one legacy user as a lookup that
// finds it unmigrated runs it: take the user's lock, migrate (personal org,
// LiteLLM team and keys, Stripe customer, the fenced commit), release.
// Against the in-process fakes, whose threads share the benchmark thread's
// CPU (cpu_pinning.hpp).
#include "bench/latency_samples.hpp"
#include "bench/registration.hpp"
#include "migrator/redis_lock.hpp"

namespace orgquake::bench {

void register_migrate_benchmarks(BenchEnvironment& env, const BenchSettings& settings) {
  register_io_benchmark("migrate/one_user",
                        [&env](benchmark::State& state) {
                          const auto migrator = migrator::make_reference_migrator();
                          auto ctx = env.main_client().context(11);
                          migrator::RedisLock lock(ctx.redis, ctx.lock, Rng(13));
                          int out_of_users = 0;
                          time_each_iteration(state, [&] {
                            const auto id = env.take_unmigrated_user();
                            if (!id) {
                              // Counted as an error (see bench_results.hpp);
                              // more repetitions than the world was sized for.
                              ++out_of_users;
                              return;
                            }
                            const auto lease = lock.acquire(*id);
                            migrator->migrate_user(ctx, *id, lease.fencing_token);
                            lock.release(lease);
                          });
                          state.counters["errors"] = out_of_users;
                        })
      // Each iteration uses up a user: a fixed count bounds how many the
      // world must hold.
      ->Iterations(settings.migrations_per_repetition)
      ->Unit(benchmark::kMillisecond);
}

}  // namespace orgquake::bench
