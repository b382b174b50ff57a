// The migration guide's shadow organizations: every request goes through
// the org path (the flag at 100 %), and a user's personal org is created
// transparently on their first request, while every client of every
// worker asks for the same users at the same moment, so that the first
// need of each user is a race. Users must not see the orgs: each request
// answers as the legacy path does (its Scientist comparison, judged by
// non_breaking_rollout). Then the guide's rollback, "ignore the org": the
// flag goes to 0 % and requests are served by the legacy path again, with
// the orgs left in place and still compared.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "history/operations.hpp"
#include "scenarios/rollout_support.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct ShadowOrgsSettings {
  int users, workers, clients, rounds, kills;
  bool http_faults;
};

class ShadowOrgs : public engine::ScenarioOf<ShadowOrgsSettings> {
 public:
  std::string_view name() const override { return "shadow_orgs"; }
  std::string_view description() const override {
    return "personal orgs are created on each user's first request, in a race, unseen; then "
           "ignored (rollback)";
  }
  ShadowOrgsSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"),
            o.common_count("workers"),
            o.common_count("clients"),
            o.count("rounds", 2, 2, 1000,
                    "times each client goes through the users; the rollback comes halfway"),
            o.count("kills", 2, 0, 10000,
                    "users whose first migration loses its PostgreSQL session at its commit"),
            o.flag("http_faults", true,
                   "LiteLLM and Stripe calls fail by a probability drawn per request")};
  }

  void run(engine::Trial& trial, const ShadowOrgsSettings& s) const override {
    const auto users = trial.choose_users(s.users, "users");
    trial.note_choice({{"kind", "shadow_orgs"}, {"users", users}});
    // Every client starts on the same user: each user's first need is met
    // by workers x clients requests at once.
    auto fleet = lookup_fleet(trial, s.workers, s.clients, users, s.rounds, 0,
                              std::chrono::milliseconds(0), history::op_serve);
    const int total = s.workers * s.clients * s.rounds * static_cast<int>(users.size());
    if (s.http_faults) plan_rollout_http_faults(trial);
    plan_commit_kills(trial, fleet, s.kills);
    // Shadow orgs from the first request; ignored from halfway.
    run_rollout(trial, std::move(fleet),
                {{"shadow orgs for everyone", 100, {}, 0}, {"ignore the orgs", 0, {}, total / 2}});

    const auto story = rollout_story(trial.history());
    require_rollout_exercised(trial, story, 2, true);
    if (story.org_uncompared > 0) {
      trial.not_exercised(fmt::format("{} requests on the org path did not compare the legacy path",
                                      story.org_uncompared));
    }
    if (const int most = history::max_in_flight_for_one_user(trial.history(), history::op_serve);
        most < 2) {
      trial.not_exercised(fmt::format(
          "no two requests of one user were ever in flight at once (at most {})", most));
    }
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(ShadowOrgs);

}  // namespace orgquake::scenarios
