// Redis goes away in the middle of a run and comes back empty (no
// persistence, as the lock store runs in production). While it is down, a
// lookup that needs the lock must fail with a clear error and never go on
// without the lock; afterwards everything converges. A few users are first
// looked up only once Redis is down, two clients each: their lookups need
// the lock to migrate, so a migrator that goes on without it migrates them
// unlocked (migration_under_lease sees it). The outage is keyed to the first
// of them reaching for the lock, not to a moment. Needs the embedded Redis:
// the harness never stops an external one (the trial is then unknown).
#include <algorithm>
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
  int outage_after;
  std::chrono::milliseconds outage;
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
            o.count("outage_after_lookups", 20, 0, 1000000,
                    "lookups of the main fleet that finish before Redis stops"),
            o.duration("outage_ms", 400, 1, 600000, "how long Redis stays down"),
            o.count("rounds", 6, 1, 1000, "times each client goes through the users"),
            o.count("late_users", 3, 0, 100,
                    "users first looked up while Redis is down, by two clients each")};
  }

  void run(engine::Trial& trial, const RedisOutageSettings& s) const override {
    auto users = trial.choose_users(s.users + s.late_users, "users");
    // The last ones chosen: the edge cases stay with the main lookups.
    std::vector<std::string> late(
        users.end() - std::min<std::ptrdiff_t>(s.late_users, users.size()), users.end());
    users.resize(users.size() - late.size());
    if (late.empty()) late.push_back(users.back());  // the outage needs a lookup to key it to
    trial.note_choice({{"kind", "lookups"}, {"users", users}, {"late_users", late}});
    const int workers = std::max<int>(1, s.workers / 2);
    const int clients = std::max<int>(1, s.clients / 2);
    auto main_fleet =
        lookup_fleet(trial, workers, clients, users, s.rounds, 1, std::chrono::milliseconds(5));
    // The outage is keyed to the first late lookup, not to a moment: Redis
    // stops as it is about to ask for the user's lock (or, for a migrator
    // without that failpoint, as it starts), and that lookup waits until
    // Redis is down. Its partner lookups go once the outage is in force.
    engine::WorkerOptions trigger;
    const auto first_late = trial.operation(history::op_lookup, late.front());
    trigger.clients.push_back({{first_late}, 0});
    engine::WorkerOptions partners;
    for (std::size_t i = 0; i < late.size(); ++i) {
      for (int twice = i == 0 ? 1 : 0; twice < 2; ++twice) {
        partners.clients.push_back({{trial.operation(history::op_lookup, late[i])}, 0});
      }
    }
    auto redis_down = std::make_unique<faults::RedisOutage>();
    redis_down->timing.at_operation = first_late.op;
    if (trial.migrator().declares("lock.before_acquire")) {
      redis_down->timing.at_failpoint = "lock.before_acquire";
    }
    redis_down->timing.lasting = s.outage;
    auto& outage = trial.plan(std::move(redis_down));

    std::vector<engine::WorkerOptions> all = std::move(main_fleet);
    const auto main_workers = all.size();
    all.push_back(std::move(trigger));
    all.push_back(std::move(partners));
    auto started = trial.start_workers(std::move(all));
    const std::vector<int> fleet(started.begin(),
                                 started.begin() + static_cast<std::ptrdiff_t>(main_workers));
    const int trigger_worker = started[main_workers];
    const int partner_worker = started[main_workers + 1];
    trial.go(fleet);
    const auto timeout = trial.settings().run_timeout;
    // Mid-run: after the main fleet's first lookups, while the rest run.
    trial.wait_until(
        [&] {
          return completed_lookups(trial.history()) >= s.outage_after ||
                 std::all_of(fleet.begin(), fleet.end(),
                             [&](int w) { return trial.worker_finished(w); });
        },
        timeout);
    trial.go({trigger_worker});
    trial.wait_until([&] { return trial.acted(outage) || trial.worker_finished(trigger_worker); },
                     timeout);
    trial.go({partner_worker});
    wait_for(trial, fleet);
    wait_for(trial, {trigger_worker, partner_worker});
    if (const auto why = outage_missed(trial.history()); !why.empty()) trial.not_exercised(why);
  }

 private:
  /// Why no lookup met the outage, or "" when one did: the claim is lookups
  /// running while Redis is down, not an outage after they all finished.
  static int completed_lookups(const history::History& history) {
    int completed = 0;
    for (const auto& event : history.events()) {
      if (event.type == history::EventType::ok || event.type == history::EventType::fail ||
          event.type == history::EventType::info) {
        ++completed;
      }
    }
    return completed;
  }

  static std::string outage_missed(const history::History& history) {
    std::optional<std::int64_t> down, up;
    for (const auto& event : history.events()) {
      if (event.type != history::EventType::fault) continue;
      if (event.kind == "redis_stop" && !down) down = event.time_ns;
      if (event.kind == "redis_start" && down && !up) up = event.time_ns;
    }
    if (!down) return "Redis never stopped: the lookup the outage waits for did not run";
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
