// The cost per evaluation of a failpoint call site, part of orgquake_bench.
//
//   <build>/bin/orgquake_bench --benchmark_filter=failpoint/
//
// failpoint/disarmed is what every step boundary of the migrator costs when no
// fault is planned (DESIGN.md: a few nanoseconds, target < 5 ns).

#include <benchmark/benchmark.h>

#include "migrator/failpoints/failpoint.hpp"
#include "migrator/failpoints/registry.hpp"

namespace {

using namespace orgquake::failpoints;

void disarmed(benchmark::State& state) {
  clear_all();
  for (auto _ : state) {
    ORGQUAKE_FAILPOINT(migrate_after_org_insert);
  }
}
BENCHMARK(disarmed)->Name("failpoint/disarmed");

// Armed with a term whose draw always misses: the registry's mutex and one
// random draw, no firing.
void armed_not_triggering(benchmark::State& state) {
  clear_all();
  set_seed(1);
  set("migrate.after_org_insert", "0%return");
  for (auto _ : state) {
    ORGQUAKE_FAILPOINT(migrate_after_org_insert);
  }
  clear_all();
}
BENCHMARK(armed_not_triggering)->Name("failpoint/armed_not_triggering");

// Armed with a spent n* budget: the registry's mutex and a counter check only.
void armed_spent_count(benchmark::State& state) {
  clear_all();
  set("migrate.after_org_insert", "1*off");
  ORGQUAKE_FAILPOINT(migrate_after_org_insert);
  clear_hits();
  for (auto _ : state) {
    ORGQUAKE_FAILPOINT(migrate_after_org_insert);
  }
  clear_all();
}
BENCHMARK(armed_spent_count)->Name("failpoint/armed_spent_count");

// Armed with off: each evaluation fires, so it is logged (time, thread, fiber)
// but does nothing. The log is emptied now and then, inside the timing, so
// that its growth does not dominate; the clearing is part of the figure.
void armed_off(benchmark::State& state) {
  clear_all();
  clear_hits();
  set("migrate.after_org_insert", "off");
  std::size_t since_clear = 0;
  for (auto _ : state) {
    ORGQUAKE_FAILPOINT(migrate_after_org_insert);
    if (++since_clear == 4096) {
      clear_hits();
      since_clear = 0;
    }
  }
  clear_all();
  clear_hits();
}
BENCHMARK(armed_off)->Name("failpoint/off");

}  // namespace
