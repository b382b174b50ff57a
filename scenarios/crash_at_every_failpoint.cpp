// Each failpoint the migrator declares, in turn: a worker looks up a user of its own, is killed
// (SIGKILL) the first time it reaches that failpoint, and a fresh worker
// then looks the user up again and must finish the job: no duplicate, no
// loss, and, when the dead worker held the user's lock, recovery within the
// lock's TTL plus the bound. The crash workers run side by side; the
// controller grants their firings in the failpoint list's order (each waits
// for the one before it), so the order of crashes replays exactly.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/worker_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

/// A user on whose first lookup `failpoint` is reached: some steps run only
/// for users with a particular edge case.
std::vector<std::string> candidates_for(const engine::Trial& trial, std::string_view failpoint) {
  using world::EdgeCase;
  if (failpoint.find("customer_create") != std::string_view::npos) {
    return users_with(trial, EdgeCase::no_stripe_customer);
  }
  if (failpoint.find("key_generate") != std::string_view::npos) {
    return users_with(trial, EdgeCase::expired_key);
  }
  if (failpoint.find("stripe") != std::string_view::npos) {
    return users_with(trial, EdgeCase::subscription);
  }
  return users_without(trial, EdgeCase::no_stripe_customer);
}

class CrashAtEveryFailpoint : public engine::Scenario {
 public:
  std::string_view name() const override { return "crash_at_every_failpoint"; }
  std::string_view description() const override {
    return "each failpoint in turn: kill the worker there, then a fresh worker must recover";
  }

  void run(engine::Trial& trial) const override {
    struct Round {
      std::string failpoint;
      std::string user;
      faults::WorkerCrash* crash = nullptr;
      int worker = -1;
    };
    std::vector<Round> rounds;
    std::set<std::string> taken;
    // The failpoints the migrator under test declared, in its order: an
    // external migrator's own list, not the C++ one.
    for (const auto& declared : trial.migrator().failpoints) {
      const std::string& failpoint = declared.name;
      auto candidates = candidates_for(trial, failpoint);
      std::erase_if(candidates, [&](const std::string& u) { return taken.contains(u); });
      if (candidates.empty()) {
        trial.note_choice({{"kind", "no_user_reaches"}, {"failpoint", failpoint}});
        continue;
      }
      Rng pick = trial.rng("user/" + failpoint);
      const auto user = candidates[pick.below(candidates.size())];
      taken.insert(user);
      rounds.push_back(
          {failpoint, user, &trial.plan(std::make_unique<faults::WorkerCrash>(failpoint, user))});
    }

    // Firings are granted in list order: each waits for the previous one.
    for (std::size_t i = 1; i < rounds.size(); ++i) {
      trial.order(rounds[i - 1].failpoint, rounds[i].failpoint);
    }
    std::vector<engine::WorkerOptions> fleet;
    for (auto& round : rounds) {
      trial.on_hit(round.failpoint, [&trial, crash = round.crash](const engine::HitInfo& hit) {
        return trial.inject(*crash, {hit.worker}) ? worker::HitDecision::crash
                                                  : worker::HitDecision::proceed;
      });
      engine::WorkerOptions options;
      options.gated = {round.failpoint};
      options.clients.push_back({{trial.operation(history::op_lookup, round.user)}, 0});
      fleet.push_back(std::move(options));
    }
    const auto workers = trial.start_workers(std::move(fleet));
    for (std::size_t i = 0; i < rounds.size(); ++i) rounds[i].worker = workers[i];
    trial.go(workers);

    const auto timeout = trial.settings().run_timeout;
    for (const auto& round : rounds) {
      // Either it crashed there, or its lookup ended without reaching the
      // failpoint; then the next may go.
      if (!trial.wait_until(
              [&] {
                return trial.fired(round.failpoint) > 0 || trial.worker_finished(round.worker);
              },
              timeout)) {
        throw std::runtime_error("no progress at failpoint " + round.failpoint);
      }
      if (trial.fired(round.failpoint) == 0) trial.skip(round.failpoint);
    }
    wait_for(trial, workers);

    // Recovery: each user looked up again by a fresh worker, which may have
    // to wait out a dead holder's lock.
    std::vector<std::string> users;
    for (const auto& round : rounds) users.push_back(round.user);
    const auto ttl = trial.lock_ttl();
    wait_for(trial, {lookup_once(trial, users, ttl + trial.settings().recovery_bound)});
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(CrashAtEveryFailpoint);

}  // namespace orgquake::scenarios
