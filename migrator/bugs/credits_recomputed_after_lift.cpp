// The org team's credits are computed from what LiteLLM says at each
// attempt instead of from a snapshot taken before the first change. A retry
// after the user's budget was lifted reads "unlimited" and gives the org
// team unlimited credits.
//
// Source: the user-migration principle's transform step done against the
// live external system rather than a journaled snapshot.
#include "migrator/bugs/bugs.hpp"
#include "migrator/io/http_client.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class CreditsRecomputedAfterLift final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:credits_recomputed_after_lift"; }

 protected:
  Journal open_journal(MigratorContext& ctx, const std::string& id,
                       const std::string& org_id) override {
    Journal journal = ReferenceMigrator::open_journal(ctx, id, org_id);
    if (!journal.has_litellm_user) return journal;
    // What LiteLLM says now, not the first attempt's snapshot.
    const auto user = ctx.litellm.get("/user/info?user_id=" + io::url_encode(id)).at("user_info");
    std::optional<double> max_budget;
    if (!user.at("max_budget").is_null()) max_budget = user.at("max_budget").get<double>();
    journal.credits = remaining_credits(max_budget, user.value("spend", 0.0));
    return journal;
  }
};

}  // namespace

CatalogBug credits_recomputed_after_lift() {
  return {"credits_recomputed_after_lift",
          "credits are recomputed on every attempt: a retry after the budget was lifted gives "
          "the org unlimited credits",
          "a transform step that reads the live external system instead of a journaled snapshot",
          "",
          [] { return std::make_unique<CreditsRecomputedAfterLift>(); },
          {"litellm_migrated_once/team_budget_unlimited"}};
}

}  // namespace orgquake::migrator::bugs
