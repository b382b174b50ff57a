// The migration guide's feature-flag rollout under live traffic: several
// workers' clients keep serving requests (op `serve`: the rollout flag picks
// the legacy path or the org path, and the other path is compared) while
// the controller walks the flag through the guide's steps:
//
//   enable for test users (allow list, 0 %) -> 5 % -> 50 % -> 100 %
//   -> rollback (0 %, no allow list: the flag disabled) -> forward again (50 %)
//
// Each step is taken when a share of the requests has completed, not at a
// moment, so that a replay takes it at the same point of the story. Faults
// fire meanwhile: API calls fail by a probability drawn per request, and
// migration transactions are terminated at their commit.
//
// The rollout invariants judge it: no request fails or changes its answer
// because of a flip (non_breaking_rollout), no user outside the rollout is
// served by the org path or migrated (gradual_rollout).
#include <algorithm>

#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "scenarios/rollout_support.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct FeatureFlagRolloutSettings {
  int users, workers, clients, requests, test_users, kills;
  bool http_faults;
};

class FeatureFlagRollout : public engine::ScenarioOf<FeatureFlagRolloutSettings> {
 public:
  std::string_view name() const override { return "feature_flag_rollout"; }
  std::string_view description() const override {
    return "the rollout flag goes to test users, 5 %, 50 %, 100 %, back to 0 and forward again "
           "while requests are served";
  }
  FeatureFlagRolloutSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"),
            o.common_count("workers"),
            o.common_count("clients"),
            o.count("requests", 24, 7, 100000, "requests each client serves over the rollout"),
            o.count("test_users", 2, 0, 100, "users allow-listed before any percentage"),
            o.count("kills", 4, 0, 10000,
                    "users whose first migration loses its PostgreSQL session at its commit"),
            o.flag("http_faults", true,
                   "LiteLLM and Stripe calls fail by a probability drawn per request")};
  }

  void run(engine::Trial& trial, const FeatureFlagRolloutSettings& s) const override {
    const auto users = trial.choose_users(s.users, "users");
    const std::vector<std::string> test_users(
        users.begin(), users.begin() + std::min<std::ptrdiff_t>(s.test_users, users.size()));
    trial.note_choice({{"kind", "rollout"}, {"users", users}, {"test_users", test_users}});

    // Every client serves random users of the pool; several clients meet
    // one user, under different states of the flag.
    Rng pick = trial.rng("requests");
    std::vector<engine::WorkerOptions> fleet(static_cast<std::size_t>(s.workers));
    int total = 0;
    for (auto& worker : fleet) {
      worker.clients.resize(static_cast<std::size_t>(s.clients));
      for (auto& client : worker.clients) {
        for (int i = 0; i < s.requests; ++i, ++total) {
          client.ops.push_back(trial.operation(history::op_serve, users[pick.below(users.size())]));
        }
      }
    }
    if (s.http_faults) plan_rollout_http_faults(trial);
    plan_commit_kills(trial, fleet, s.kills);

    // The guide's checklist, steps 5 and 6, then its rollback ("disable the
    // flag") and forward again; requests run before the first step and
    // after the last.
    std::vector<RolloutStep> steps = {{"enable for test users", 0, test_users},
                                      {"5 %", 5, test_users},
                                      {"50 %", 50, test_users},
                                      {"100 %", 100, test_users},
                                      {"rollback", 0, {}},
                                      {"forward again", 50, test_users}};
    for (std::size_t i = 0; i < steps.size(); ++i) {
      steps[i].after_completed =
          static_cast<int>(static_cast<long>(total) * static_cast<long>(i + 1) /
                           static_cast<long>(steps.size() + 1));
    }
    run_rollout(trial, std::move(fleet), steps);

    const auto story = rollout_story(trial.history());
    require_rollout_exercised(trial, story, steps.size(), true);
    if (s.kills > 0 && !declared(trial, {"migrate.before_commit"}).empty() && !story.kill_met) {
      trial.not_exercised("no planned kill met a migration transaction");
    }
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(FeatureFlagRollout);

}  // namespace orgquake::scenarios
