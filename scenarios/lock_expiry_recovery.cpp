// A lock holder dies: for each of a few points inside the locked section,
// a worker is killed (SIGKILL) there while holding a user's lock, and a
// fresh lookup of that user is started at once. It must wait for the lease
// to run out (it cannot take a live lock) and then succeed within the TTL
// plus the recovery bound, which the lock_expiry_recovery invariant checks.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/worker_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

const std::vector<std::string>& kill_points() {
  static const std::vector<std::string> points = {"lock.after_acquire", "migrate.after_org_insert",
                                                  "migrate.after_litellm_team_new"};
  return points;
}

struct LockExpiryRecoverySettings {
  int holders;
};

class LockExpiryRecovery : public engine::ScenarioOf<LockExpiryRecoverySettings> {
 public:
  std::string_view name() const override { return "lock_expiry_recovery"; }
  std::string_view description() const override {
    return "the lock holder dies; the next lookup must succeed within TTL plus a bound";
  }
  LockExpiryRecoverySettings read(engine::OptionReader& o) const override {
    return {
        o.count("holders", 2, 1, 3, "holders killed, one after another, each at its own point")};
  }

  void run(engine::Trial& trial, const LockExpiryRecoverySettings& s) const override {
    const auto users = trial.choose_users(s.holders, "holders");
    const auto timeout = trial.settings().run_timeout;
    const auto wait = trial.lock_ttl() + trial.settings().recovery_bound;
    std::vector<faults::WorkerCrash*> crashes;
    for (std::size_t i = 0; i < users.size(); ++i) {
      const auto& point = kill_points()[i % kill_points().size()];
      crashes.push_back(&trial.plan(std::make_unique<faults::WorkerCrash>(point, users[i])));
    }
    for (std::size_t i = 0; i < users.size(); ++i) {
      const auto& user = users[i];
      const auto& point = kill_points()[i % kill_points().size()];
      trial.on_hit(point, [&trial, crash = crashes[i]](const engine::HitInfo& hit) {
        return trial.inject(*crash, {hit.worker}) ? worker::HitDecision::crash
                                                  : worker::HitDecision::proceed;
      });
      engine::WorkerOptions holder;
      holder.gated = {point};
      holder.clients.push_back({{trial.operation(history::op_lookup, user)}, 0});
      const int worker = trial.run_worker(std::move(holder));
      if (!trial.wait_until([&] { return trial.worker_finished(worker); }, timeout) ||
          trial.fired(point) == 0) {
        throw std::runtime_error(fmt::format("the holder of {} never reached {}", user, point));
      }
      // At once: the next lookup meets the dead holder's lock.
      wait_for(trial, {lookup_once(trial, {user}, wait)});
    }
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(LockExpiryRecovery);

}  // namespace orgquake::scenarios
