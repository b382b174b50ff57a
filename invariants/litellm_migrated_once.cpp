// LiteLLM entries move exactly once: one team per org with the user's legacy
// remaining credits, the user a member once and its own budget lifted, every
// legacy key moved to the team, none lost or duplicated.
//
// Symptom codes (results::Evidence::symptom):
//   no_org_team                 a migrated user's org has no LiteLLM team
//   team_budget_unlimited       the team's max_budget is null (unlimited), though the user's
//                               remaining legacy credits were finite
//   team_budget_wrong           the team's max_budget differs from the user's remaining credits
//   not_team_member             the user is not a member of its org's team
//   team_membership_duplicated  the user is a member of its org's team more than once
//   user_budget_not_lifted      the user's own LiteLLM max_budget is still set
//   key_lost                    a legacy key no longer exists in LiteLLM
//   key_left_on_user            a legacy key exists but belongs to no team (still the user's)
//   key_on_other_team           a legacy key belongs to a team other than the user's org's
//   keys_duplicated             the run created more keys for the user than the one allowed to
//                               replace a broken stored key
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

class LiteLlmMigratedOnce final : public Invariant {
 public:
  std::string_view name() const override { return "litellm_migrated_once"; }
  std::string_view description() const override {
    return "one team per org with the legacy credits, user a member once with its budget lifted, "
           "every key moved, none lost or duplicated";
  }

  Verdict check(const ObservedWorld& world) const override {
    VerdictBuilder verdict("LiteLLM migrated once");
    std::map<std::string, const fakes::LlmTeam*> team_by_id;
    for (const auto& t : world.litellm.teams) team_by_id[t.team_id] = &t;
    std::map<std::string, const fakes::LlmUser*> user_by_id;
    for (const auto& u : world.litellm.users) user_by_id[u.user_id] = &u;
    std::map<std::string, const fakes::LlmVirtualKey*> key_by_text;
    for (const auto& k : world.litellm.keys) key_by_text[k.key] = &k;

    const auto migrated = world.database.exec(
        "SELECT user_id FROM user_settings WHERE already_migrated ORDER BY user_id");
    std::map<std::string, bool> is_migrated;
    for (int i = 0; i < migrated.rows(); ++i) is_migrated[std::string(migrated.text(i, 0))] = true;

    for (const auto& user : world.fixture.users) {
      if (!is_migrated[user.user_id]) continue;
      const std::string& org = user.user_id;  // personal org id = user id
      const auto team = team_by_id.find(org);
      if (team == team_by_id.end()) {
        verdict.violation("no_org_team", "migrated user " + user.user_id + " has no org team",
                          {{"user_id", user.user_id}});
        continue;
      }
      const double expected = user.remaining_credits();
      if (!team->second->max_budget || std::fabs(*team->second->max_budget - expected) > 1e-6) {
        verdict.violation(
            team->second->max_budget ? "team_budget_wrong" : "team_budget_unlimited",
            fmt::format("team {} has budget {} but the user had {} credits left", org,
                        team->second->max_budget ? fmt::format("{}", *team->second->max_budget)
                                                 : std::string("unlimited"),
                        expected),
            {{"team_id", org}, {"expected", expected}});
      }
      int memberships = 0;
      for (const auto& m : team->second->members_with_roles)
        memberships += m.user_id == user.user_id;
      if (memberships != 1) {
        verdict.violation(
            memberships == 0 ? "not_team_member" : "team_membership_duplicated",
            fmt::format("user {} is a member of its team {} times", user.user_id, memberships),
            {{"user_id", user.user_id}, {"memberships", memberships}});
      }
      if (auto u = user_by_id.find(user.user_id); u != user_by_id.end() && u->second->max_budget) {
        verdict.violation(
            "user_budget_not_lifted",
            fmt::format("user {}'s own budget is still {}", user.user_id, *u->second->max_budget),
            {{"user_id", user.user_id}});
      }
      for (const auto& legacy : user.keys) {
        const auto key = key_by_text.find(legacy.key);
        if (key == key_by_text.end()) {
          verdict.violation("key_lost",
                            "legacy key " + legacy.alias + " of user " + user.user_id + " is lost",
                            {{"user_id", user.user_id}, {"key_alias", legacy.alias}});
        } else if (key->second->team_id.value_or("") != org) {
          verdict.violation(
              key->second->team_id.value_or("").empty() ? "key_left_on_user" : "key_on_other_team",
              "legacy key " + legacy.alias + " of user " + user.user_id +
                  " was not moved to its team",
              {{"user_id", user.user_id},
               {"key_alias", legacy.alias},
               {"team_id", key->second->team_id.value_or("")}});
        }
      }
      // Keys the run created for the user: at most one, and only to replace a
      // stored key that no longer worked.
      int created = 0;
      for (const auto& event : world.litellm.ledger.objects()) {
        if (event.kind == "created" && event.object_type == "key" && event.request_seq != 0 &&
            event.state.value("user_id", nlohmann::json()) == user.user_id) {
          ++created;
        }
      }
      const bool stored_key_works = user.llm_api_key && !user.keys.front().blocked;
      const int allowed = stored_key_works ? 0 : 1;
      if (created > allowed) {
        verdict.violation("keys_duplicated",
                          fmt::format("{} keys were created for user {} (at most {})", created,
                                      user.user_id, allowed),
                          {{"user_id", user.user_id}, {"created", created}});
      }
    }
    return verdict.finish(std::to_string(migrated.rows()) + " migrated users");
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(LiteLlmMigratedOnce);
}  // namespace orgquake::invariants
