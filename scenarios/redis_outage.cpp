// Redis goes away in the middle of a run and comes back empty (no
// persistence, as the lock store runs in production). While it is down, a
// lookup that needs the lock must fail with a clear error and never go on
// without the lock; afterwards everything converges. A few users are first
// looked up only once Redis is down, two clients each at once: their
// lookups need the lock to migrate, so a migrator that goes on without it
// migrates them unlocked (migration_under_lease sees it). Needs the embedded
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
  int late_users;
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
            o.count("rounds", 6, 1, 1000, "times each client goes through the users"),
            o.count("late_users", 3, 0, 100,
                    "users first looked up while Redis is down, by two clients each")};
  }

  void run(engine::Trial& trial, const RedisOutageSettings& s) const override {
    auto users = trial.choose_users(s.users + s.late_users, "users");
    // The last ones chosen: the edge cases stay with the main lookups.
    const std::vector<std::string> late(
        users.end() - std::min<std::ptrdiff_t>(s.late_users, users.size()), users.end());
    users.resize(users.size() - late.size());
    Rng jitter = trial.rng("outage");
    const auto after =
        s.outage_after + std::chrono::milliseconds(static_cast<std::int64_t>(jitter.below(20)));
    const auto outage = s.outage;
    auto redis_down = std::make_unique<faults::RedisOutage>();
    redis_down->timing = {after, outage};  // from the first lookups
    trial.plan(std::move(redis_down));
    trial.note_choice({{"kind", "lookups"}, {"users", users}, {"late_users", late}});
    // Started first, let go just after the main fleet: their clients wait
    // until a third of the way into the outage.
    std::vector<int> late_fleet;
    if (!late.empty()) {
      engine::WorkerOptions options;
      for (const auto& user : late) {
        for (int twice = 0; twice < 2; ++twice) {
          worker::ClientPlan client;
          client.ops.push_back(trial.operation(history::op_lookup, user));
          client.start_delay_ms = (after + outage / 3).count();
          options.clients.push_back(std::move(client));
        }
      }
      late_fleet.push_back(trial.start_worker(std::move(options)));
    }
    const int workers = std::max<int>(1, s.workers / 2);
    const int clients = std::max<int>(1, s.clients / 2);
    const auto fleet = start_lookup_fleet(trial, workers, clients, users, s.rounds, 1,
                                          std::chrono::milliseconds(5));
    trial.go(late_fleet);
    wait_for(trial, fleet);
    wait_for(trial, late_fleet);
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
