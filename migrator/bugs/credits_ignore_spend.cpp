// The org team's credits are the user's whole budget, not what was left of
// it: spent credits come back with the migration.
//
// Source: the user-migration principle's "remaining credits" computed as
// max_budget instead of max_budget - spend.
#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class CreditsIgnoreSpend final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:credits_ignore_spend"; }

 protected:
  std::optional<double> remaining_credits(std::optional<double> max_budget, double) override {
    return max_budget;  // the spend is forgotten
  }
};

}  // namespace

CatalogBug credits_ignore_spend() {
  return {"credits_ignore_spend",
          "the org's credits are the user's whole budget: what was spent comes back",
          "remaining credits computed as max_budget, not max_budget - spend",
          "",
          [] { return std::make_unique<CreditsIgnoreSpend>(); },
          {"litellm_migrated_once/team_budget_wrong"}};
}

}  // namespace orgquake::migrator::bugs
