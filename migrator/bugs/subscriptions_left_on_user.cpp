// The customer is pointed at the org, its subscriptions are not: they still
// name the user, so renewals and usage land on a user the billing code no
// longer looks at.
//
// Source: the user-migration principle's billing continuity step done for
// the customer object only.
#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class SubscriptionsLeftOnUser final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:subscriptions_left_on_user"; }

 protected:
  void point_subscriptions_at_org(MigratorContext&, const std::string&,
                                  const std::string&) override {}  // forgotten
};

}  // namespace

CatalogBug subscriptions_left_on_user() {
  return {"subscriptions_left_on_user",
          "points the Stripe customer at the org but leaves its subscriptions naming the user",
          "billing continuity done for the customer object only",
          "",
          [] { return std::make_unique<SubscriptionsLeftOnUser>(); },
          {"billing_follows_org/subscription_on_user"}};
}

}  // namespace orgquake::migrator::bugs
