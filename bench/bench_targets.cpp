#include "bench/bench_targets.hpp"

#include <fmt/format.h>

#include "bench/bench_table.hpp"

namespace orgquake::bench {
namespace {

bool usable(const BenchResult* r) {
  return r != nullptr && !r->error && r->median_ns > 0;
}

}  // namespace

std::vector<TargetCheck> check_targets(const BenchRun& run) {
  std::vector<TargetCheck> checks;

  TargetCheck eager{"lookup/joined/members:16 >= 10x faster than lookup/n_plus_one/members:16",
                    "not measured", std::nullopt};
  const auto* joined = run.find("lookup/joined/members:16");
  const auto* n_plus_one = run.find("lookup/n_plus_one/members:16");
  if (usable(joined) && usable(n_plus_one)) {
    const double speedup = n_plus_one->median_ns / joined->median_ns;
    eager.measured =
        fmt::format("{:.1f}x ({} vs {})", speedup, human_nanoseconds(joined->median_ns),
                    human_nanoseconds(n_plus_one->median_ns));
    eager.met = speedup >= 10;
  }
  checks.push_back(eager);

  TargetCheck fast{"lookup/fast_path/joined <= 1.3x floor/pg_select1", "not measured",
                   std::nullopt};
  const auto* fast_path = run.find("lookup/fast_path/joined");
  const auto* floor = run.find("floor/pg_select1");
  if (usable(fast_path) && usable(floor)) {
    const double ratio = fast_path->median_ns / floor->median_ns;
    fast.measured =
        fmt::format("{:.2f}x ({} vs {})", ratio, human_nanoseconds(fast_path->median_ns),
                    human_nanoseconds(floor->median_ns));
    fast.met = ratio <= 1.3;
    // Below the target may lie a bound no client can beat: a round trip plus
    // what the server's executor spends on the statement.
    if (const auto* executor = run.find("bound/joined_executor"); usable(executor)) {
      fast.measured +=
          fmt::format("; the bound, floor + executor time of the join: {:.2f}x ({} + {})",
                      (floor->median_ns + executor->median_ns) / floor->median_ns,
                      human_nanoseconds(floor->median_ns), human_nanoseconds(executor->median_ns));
    }
  }
  checks.push_back(fast);

  TargetCheck concurrent{"lookup/concurrent/clients:256 completes without errors", "not measured",
                         std::nullopt};
  if (const auto* c256 = run.find("lookup/concurrent/clients:256")) {
    const double errors = c256->counter("errors").value_or(0);
    if (c256->error) {
      concurrent.measured = *c256->error;
    } else {
      concurrent.measured = fmt::format("{:.0f} errors, {:.0f} lookups/s", errors,
                                        c256->counter("lookups_per_s").value_or(0));
    }
    concurrent.met = !c256->error && errors == 0;
  }
  checks.push_back(concurrent);
  return checks;
}

}  // namespace orgquake::bench
