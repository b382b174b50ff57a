// A user whose LiteLLM budget is zero (every credit spent, or never given
// any) is taken for one already migrated, because migration sets budgets to
// "lifted" and the check reads 0 like null. The user's LiteLLM entries are
// never moved: keys stay on the user, the user is no member of the org team.
//
// Source: `if not user.max_budget:` (falsy 0) in the seed system's
// "budget already lifted" test.
#include "migrator/bugs/bugs.hpp"
#include "migrator/io/http_client.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class ZeroBudgetTakenAsMigrated final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:zero_budget_taken_as_migrated"; }

 protected:
  bool litellm_entries_to_move(MigratorContext& ctx, const std::string& id,
                               const Journal& journal) override {
    if (!journal.has_litellm_user) return false;
    const auto info = ctx.litellm.get("/user/info?user_id=" + io::url_encode(id));
    const auto& budget = info.at("user_info").at("max_budget");
    return !(budget.is_number() && budget.get<double>() == 0);  // 0 read as "lifted"
  }
};

}  // namespace

CatalogBug zero_budget_taken_as_migrated() {
  return {"zero_budget_taken_as_migrated",
          "a user with a zero LiteLLM budget is taken for migrated: its keys are never moved",
          "a falsy check (`if not max_budget`) that reads 0 like null in the seed system",
          "",
          [] { return std::make_unique<ZeroBudgetTakenAsMigrated>(); },
          // Only what sets it apart: its keys are left on the user too, but so are
          // skip_litellm_when_budget_lifted's, which lifts the budget first.
          {"litellm_migrated_once/user_budget_not_lifted", "litellm_migrated_once/no_org_team"}};
}

}  // namespace orgquake::migrator::bugs
