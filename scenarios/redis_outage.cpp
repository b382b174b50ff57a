// Redis goes away in the middle of a run and comes back empty (no
// persistence, as the lock store runs in production). While it is down, a
// lookup that needs the lock must fail with a clear error and never go on
// without the lock; afterwards everything converges. Needs the embedded
// Redis: the harness never stops an external one (the trial is then unknown).
#include <optional>
#include <string>

#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/service_faults.hpp"
#include "history/operations.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct RedisOutageSettings {
  int users, workers, clients;
  std::chrono::milliseconds outage_after, outage;
  int rounds;
};

class RedisOutage : public engine::ScenarioOf<RedisOutageSettings> {
 public:
  std::string_view name() const override { return "redis_outage"; }
  std::string_view description() const override {
    return "Redis is stopped mid-run, then restarted empty";
  }
  RedisOutageSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"),
            o.common_count("workers"),
            o.common_count("clients"),
            o.duration("outage_after_ms", 60, 0, 600000,
                       "when Redis stops, from the start of the lookups"),
            o.duration("outage_ms", 400, 1, 600000, "how long Redis stays down"),
            o.count("rounds", 6, 1, 1000, "times each client goes through the users")};
  }

  void run(engine::Trial& trial, const RedisOutageSettings& s) const override {
    const auto users = trial.choose_users(s.users, "users");
    Rng jitter = trial.rng("outage");
    const auto after =
        s.outage_after + std::chrono::milliseconds(static_cast<std::int64_t>(jitter.below(20)));
    const auto outage = s.outage;
    auto redis_down = std::make_unique<faults::RedisOutage>();
    redis_down->timing = {after, outage};  // from the first lookups
    trial.plan(std::move(redis_down));
    trial.note_choice({{"kind", "lookups"}, {"users", users}});
    const int workers = std::max<int>(1, s.workers / 2);
    const int clients = std::max<int>(1, s.clients / 2);
    const auto fleet = start_lookup_fleet(trial, workers, clients, users, s.rounds, 1,
                                          std::chrono::milliseconds(5));
    wait_for(trial, fleet);
    if (const auto why = outage_missed(trial.history()); !why.empty()) trial.not_exercised(why);
  }

 private:
  /// Why no lookup met the outage, or "" when one did: the claim is lookups
  /// running while Redis is down, not an outage after they all finished.
  static std::string outage_missed(const history::History& history) {
    std::optional<std::int64_t> down, up;
    for (const auto& event : history.events()) {
      if (event.type != history::EventType::fault) continue;
      if (event.kind == "redis_stop" && !down) down = event.time_ns;
      if (event.kind == "redis_start" && down && !up) up = event.time_ns;
    }
    if (!down) return "every lookup finished before Redis stopped (lower outage_after_ms)";
    for (const auto& op : history::operations_of(history)) {
      if (op.invoke == nullptr || op.invoke->kind != history::op_lookup) continue;
      const bool started_before_up = !up || op.invoke->time_ns < *up;
      const bool ended_after_down = op.completion == nullptr || op.completion->time_ns > *down;
      if (started_before_up && ended_after_down) return "";
    }
    return "no lookup was in flight while Redis was down";
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(RedisOutage);

}  // namespace orgquake::scenarios
