// A lock holder stalls past its lease: worker A reaches the commit of a
// user's migration holding the lock and is stopped there (SIGSTOP, as a GC
// pause or a frozen VM stops a replica). Once the lease has expired,
// worker B looks the user up, takes the lock and migrates. Then A resumes
// and tries to commit its stale work: the fencing token must refuse it.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/worker_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct LockHolderPauseSettings {
  std::string pause_at;
  std::chrono::milliseconds overstay;
};

class LockHolderPause : public engine::ScenarioOf<LockHolderPauseSettings> {
 public:
  std::string_view name() const override { return "lock_holder_pause"; }
  std::string_view description() const override {
    return "the lock holder is stopped past its TTL; another client takes the lock and "
           "migrates; the first resumes";
  }
  LockHolderPauseSettings read(engine::OptionReader& o) const override {
    return {o.choice("pause_at", "migrate.before_commit",
                     {"migrate.before_commit", "migrate.after_org_insert", "migrate.after_journal",
                      "migrate.after_litellm_team_new", "lookup.after_lock_acquire"},
                     "failpoint where the holder is stopped"),
            o.duration("overstay_ms", 300, 0, 600000,
                       "how long past the TTL the holder stays stopped")};
  }

  void run(engine::Trial& trial, const LockHolderPauseSettings& s) const override {
    const std::string& pause_at = s.pause_at;
    trial.require_failpoint(pause_at);
    const auto user = trial.choose_users(1, "holder")[0];
    const auto stopped_for = trial.lock_ttl() + s.overstay;
    auto& pause = trial.plan(std::make_unique<faults::WorkerPause>(pause_at, user, stopped_for));

    int holder = -1;
    trial.on_hit(pause_at, [&](const engine::HitInfo& hit) {
      trial.inject(pause, {hit.worker});
      return worker::HitDecision::proceed;  // read once the holder runs again
    });
    engine::WorkerOptions first;
    first.gated = {pause_at};
    first.clients.push_back({{trial.operation(history::op_lookup, user)}, 0});
    holder = trial.run_worker(std::move(first));
    const auto timeout = trial.settings().run_timeout;
    if (!trial.wait_until(
            [&] { return trial.fired(pause_at) > 0 || trial.worker_finished(holder); }, timeout)) {
      throw std::runtime_error("the holder never reached " + pause_at);
    }
    if (trial.fired(pause_at) == 0) {
      throw std::runtime_error(
          fmt::format("the holder's lookup of {} ended before {}", user, pause_at));
    }
    trial.sleep(*pause.stopped_for());
    // The lease is gone: a second replica serves the user meanwhile.
    const int second = lookup_once(trial, {user}, trial.settings().lock_max_wait);
    wait_for(trial, {second});
    trial.heal(pause);
    wait_for(trial, {holder});
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(LockHolderPause);

}  // namespace orgquake::scenarios
