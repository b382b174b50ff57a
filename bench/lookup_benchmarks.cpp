// One lookup at a time on the benchmark thread: what each loading strategy
// costs as memberships grow, what the lock adds, and what the fast path saves.
#include <memory>

#include <fmt/format.h>

#include "bench/latency_samples.hpp"
#include "bench/pipelined_n_plus_one.hpp"
#include "bench/registration.hpp"
#include "migrator/verification.hpp"

namespace orgquake::bench {
namespace {

using migrator::LoadStrategy;

constexpr LoadStrategy kStrategies[] = {LoadStrategy::joined, LoadStrategy::selectin,
                                        LoadStrategy::n_plus_one};

// What every strategy must return for `legacy_id`, loaded once before timing.
migrator::LoadedUser expected_user(BenchEnvironment& env, const std::string& legacy_id) {
  return *migrator::load_user(env.main_client().pg, legacy_id, LoadStrategy::joined);
}

// lookup/<strategy>/members:<M>: load and verify a migrated user with M
// memberships; `queries` counts the statements one lookup sends.
void strategy_by_memberships(BenchEnvironment& env, LoadStrategy strategy, int memberships) {
  register_io_benchmark(
      fmt::format("lookup/{}/members:{}", migrator::name_of(strategy), memberships),
      [&env, strategy, memberships](benchmark::State& state) {
        auto& pg = env.main_client().pg;
        const std::string& id = env.user_with_memberships(memberships);
        int queries = 0;
        if (migrator::load_user(pg, id, strategy, &queries) != expected_user(env, id)) {
          state.SkipWithError("the strategy loaded a different user than joined loading");
          return;
        }
        time_each_iteration(state,
                            [&] { migrator::verify(*migrator::load_user(pg, id, strategy)); });
        state.counters["queries"] = queries;
      });
}

void pipelined_by_memberships(BenchEnvironment& env,
                              const std::shared_ptr<PipelinedNPlusOne>& pipelined,
                              int memberships) {
  register_io_benchmark(
      fmt::format("lookup/n_plus_one_pipelined/members:{}", memberships),
      [&env, pipelined, memberships](benchmark::State& state) {
        const std::string& id = env.user_with_memberships(memberships);
        if (pipelined->load(id) != expected_user(env, id)) {
          state.SkipWithError("the pipelined N+1 loaded a different user than joined loading");
          return;
        }
        time_each_iteration(state, [&] { migrator::verify(*pipelined->load(id)); });
        state.counters["queries"] = pipelined->statements();
        state.counters["round_trips"] = pipelined->round_trips();
      });
}

// lookup/locked/<strategy> and lookup/fast_path/<strategy>: the migrator's
// own verified lookup of a migrated user with one membership, with the lock
// taken every time (the seed system's path) or only for users not migrated.
void verified_lookup(BenchEnvironment& env, LoadStrategy strategy, bool fast_path) {
  register_io_benchmark(
      fmt::format("lookup/{}/{}", fast_path ? "fast_path" : "locked", migrator::name_of(strategy)),
      [&env, strategy, fast_path](benchmark::State& state) {
        const auto migrator = migrator::make_reference_migrator();
        auto ctx = env.main_client().context(7);
        const std::string& id = env.user_with_memberships(1);
        const migrator::LookupOptions options{strategy, fast_path};
        time_each_iteration(state, [&] {
          benchmark::DoNotOptimize(migrator->get_user_verified(ctx, id, options));
        });
        state.counters["lock_waits"] = ctx.stats.lock_waits;
      });
}

}  // namespace

void register_lookup_benchmarks(BenchEnvironment& env) {
  const auto& membership_counts = env.membership_counts();
  for (const auto strategy : kStrategies) {
    for (const int m : membership_counts) strategy_by_memberships(env, strategy, m);
  }
  auto pipelined = std::make_shared<PipelinedNPlusOne>(env.database_url().conninfo());
  env.share_benchmark_cpu(pipelined->backend_pid());
  for (const int m : membership_counts) pipelined_by_memberships(env, pipelined, m);
  for (const auto strategy : kStrategies) verified_lookup(env, strategy, false);
  for (const auto strategy : kStrategies) verified_lookup(env, strategy, true);
}

}  // namespace orgquake::bench
