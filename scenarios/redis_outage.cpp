// Redis goes away in the middle of a run and comes back empty (no
// persistence, as the lock store runs in production). While it is down, a
// lookup that needs the lock must fail with a clear error and never go on
// without the lock; afterwards everything converges. Needs the embedded
// Redis: the harness never stops an external one (the trial is then unknown).
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/service_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

class RedisOutage : public engine::Scenario {
 public:
  std::string_view name() const override { return "redis_outage"; }
  std::string_view description() const override {
    return "Redis is stopped mid-run, then restarted empty";
  }
  std::vector<engine::OptionSpec> options() const override {
    return {
        {"outage_after_ms", 60, "when Redis stops, from the start of the lookups", 0, 600000, {}},
        {"outage_ms", 400, "how long Redis stays down", 1, 600000, {}},
        {"rounds", 6, "times each client goes through the users", 1, 1000, {}}};
  }

  void run(engine::Trial& trial) const override {
    const auto& o = trial.options();
    const auto users = trial.choose_users(static_cast<int>(o.integer("users")), "users");
    Rng jitter = trial.rng("outage");
    const auto after = std::chrono::milliseconds(o.integer("outage_after_ms") +
                                                 static_cast<std::int64_t>(jitter.below(20)));
    const auto outage = std::chrono::milliseconds(o.integer("outage_ms"));
    auto redis_down = std::make_unique<faults::RedisOutage>();
    redis_down->timing = {after, outage};  // from the first lookups
    trial.plan(std::move(redis_down));
    trial.note_choice({{"kind", "lookups"}, {"users", users}});
    const int workers = std::max<int>(1, static_cast<int>(o.integer("workers")) / 2);
    const int clients = std::max<int>(1, static_cast<int>(o.integer("clients")) / 2);
    const auto fleet =
        start_lookup_fleet(trial, workers, clients, users, static_cast<int>(o.integer("rounds")), 1,
                           std::chrono::milliseconds(5));
    wait_for(trial, fleet);
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(RedisOutage);

}  // namespace orgquake::scenarios
