// The LiteLLM part runs before the database commit, and a retry decides
// whether it is done by looking at LiteLLM: "the user's budget is already
// lifted, so the user was moved". A crash after lifting the budget and
// before the keys moved leaves the keys on the user for ever: every retry
// skips the moves.
//
// Source: the budget-already-lifted guard of the OpenHands-style migration
// the reference documents describe (external calls before the commit,
// skipped on retry because the external side says "done").
#include "migrator/bugs/bugs.hpp"
#include "migrator/io/http_client.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class SkipLitellmWhenBudgetLifted final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:skip_litellm_when_budget_lifted"; }

 protected:
  bool litellm_entries_to_move(MigratorContext& ctx, const std::string& id,
                               const Journal& journal) override {
    if (!journal.has_litellm_user) return false;
    const auto info = ctx.litellm.get("/user/info?user_id=" + io::url_encode(id));
    return !info.at("user_info").at("max_budget").is_null();  // lifted: "already moved"
  }
};

}  // namespace

CatalogBug skip_litellm_when_budget_lifted() {
  return {"skip_litellm_when_budget_lifted",
          "a retry skips the LiteLLM moves when the user's budget already looks lifted",
          "the budget-already-lifted guard: external calls before the commit, skipped on retry "
          "because LiteLLM says \"done\"",
          "",
          [] { return std::make_unique<SkipLitellmWhenBudgetLifted>(); },
          {"litellm_migrated_once/key_left_on_user", "litellm_migrated_once/not_team_member"}};
}

}  // namespace orgquake::migrator::bugs
