// Billing continuity: once a user is migrated, its Stripe customer and
// every subscription of that customer name the org (metadata org_id is the
// personal org's id) and no longer the user, so that renewals, usage and
// invoices land on the org the application now bills.
//
// Symptom codes (results::Evidence::symptom):
//   customer_metadata_on_user  a migrated user's Stripe customer's metadata org_id is not the org
//   subscription_on_user       a subscription of that customer does not name the org (org_id), or
//                              still names the user (user_id)
#include <map>
#include <set>

#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

class BillingFollowsOrg final : public Invariant {
 public:
  std::string_view name() const override { return "billing_follows_org"; }
  std::string_view description() const override {
    return "a migrated user's Stripe customer and its subscriptions name the org, not the user";
  }

  Verdict check(const ObservedWorld& world) const override {
    VerdictBuilder verdict("billing follows the org");
    std::set<std::string, std::less<>> migrated;
    const auto rows =
        world.database.exec("SELECT user_id FROM user_settings WHERE already_migrated");
    for (int i = 0; i < rows.rows(); ++i) migrated.emplace(rows.text(i, 0));
    std::map<std::string, const fakes::StripeCustomer*, std::less<>> customer_by_id;
    for (const auto& c : world.stripe.customers) customer_by_id[c.id] = &c;
    std::map<std::string, std::vector<const fakes::StripeSubscription*>, std::less<>> subscriptions;
    for (const auto& s : world.stripe.subscriptions) subscriptions[s.customer].push_back(&s);

    int checked = 0;
    for (const auto& user : world.fixture.users) {
      if (!user.stripe_customer_id || migrated.count(user.user_id) == 0) continue;
      const std::string& org = user.user_id;  // a personal org's id is its user's
      const auto customer = customer_by_id.find(*user.stripe_customer_id);
      if (customer == customer_by_id.end()) continue;  // no_double_billing names a lost customer
      ++checked;
      const auto& c = *customer->second;
      if (metadata_value(c.metadata, "org_id") != org) {
        verdict.violation(
            "customer_metadata_on_user",
            "migrated user " + user.user_id + "'s Stripe customer " + c.id + " names org '" +
                metadata_value(c.metadata, "org_id") + "', not its org",
            {{"user_id", user.user_id}, {"customer", c.id}, {"metadata", c.metadata}});
      }
      for (const auto* s : subscriptions[c.id]) {
        if (metadata_value(s->metadata, "org_id") == org &&
            metadata_value(s->metadata, "user_id").empty()) {
          continue;
        }
        verdict.violation("subscription_on_user",
                          "migrated user " + user.user_id + "'s subscription " + s->id +
                              " still names the user, not its org",
                          {{"user_id", user.user_id},
                           {"customer", c.id},
                           {"subscription", s->id},
                           {"metadata", s->metadata}});
      }
    }
    return verdict.finish(std::to_string(checked) + " migrated users' customers");
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(BillingFollowsOrg);
}  // namespace orgquake::invariants
