// Migration moves billing; it never adds to it: one Stripe customer per user
// or org, the original customer kept, no subscription or invoice created,
// one billing row per user.
//
// Symptom codes (results::Evidence::symptom):
//   duplicate_billing_rows      a user has several stripe_customers rows
//   customers_per_org           several Stripe customers name one org (metadata org_id)
//   original_customer_lost      a user's original Stripe customer no longer exists
//   billing_row_wrong_customer  a user's first stripe_customers row names another customer
//   subscription_lost           the user's customer has fewer subscriptions than it had
//   subscriptions_added         the user's customer has more subscriptions than it had
//   invoice_created             the run created a Stripe invoice
//   subscription_created        the run created a Stripe subscription
#include <map>

#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

class NoDoubleBilling final : public Invariant {
 public:
  std::string_view name() const override { return "no_double_billing"; }
  std::string_view description() const override {
    return "one Stripe customer per user or org, original ids kept, no subscription or invoice "
           "created";
  }

  Verdict check(const ObservedWorld& world) const override {
    VerdictBuilder verdict("no double billing");
    const auto rows = world.database.exec(
        "SELECT user_id, count(*), string_agg(stripe_customer_id, ',' ORDER BY id), "
        "min(stripe_customer_id) FILTER (WHERE id = (SELECT min(id) FROM stripe_customers x "
        "WHERE x.user_id = b.user_id)) FROM stripe_customers b GROUP BY user_id");
    std::map<std::string, std::string, std::less<>> first_row;
    for (int i = 0; i < rows.rows(); ++i) {
      if (rows.integer(i, 1) > 1) {
        verdict.violation("duplicate_billing_rows",
                          "user " + std::string(rows.text(i, 0)) + " has " +
                              std::string(rows.text(i, 1)) + " stripe_customers rows",
                          {{"user_id", rows.text(i, 0)}, {"stripe_customer_ids", rows.text(i, 2)}});
      }
      first_row.emplace(std::string(rows.text(i, 0)), std::string(rows.text(i, 3)));
    }

    std::map<std::string, int> customers_per_org;
    std::map<std::string, const fakes::StripeCustomer*> customer_by_id;
    for (const auto& c : world.stripe.customers) {
      customer_by_id[c.id] = &c;
      if (auto org = metadata_value(c.metadata, "org_id"); !org.empty()) ++customers_per_org[org];
    }
    for (const auto& [org, count] : customers_per_org) {
      if (count > 1) {
        verdict.violation("customers_per_org",
                          "org " + org + " has " + std::to_string(count) + " Stripe customers",
                          {{"org_id", org}, {"customers", count}});
      }
    }
    std::map<std::string, int> subscriptions_per_customer;
    for (const auto& s : world.stripe.subscriptions) ++subscriptions_per_customer[s.customer];
    for (const auto& user : world.fixture.users) {
      if (!user.stripe_customer_id) continue;
      const auto& original = *user.stripe_customer_id;
      if (customer_by_id.count(original) == 0) {
        verdict.violation(
            "original_customer_lost",
            "the original Stripe customer " + original + " of user " + user.user_id + " is gone",
            {{"user_id", user.user_id}, {"customer", original}});
      }
      if (auto row = first_row.find(user.user_id);
          row != first_row.end() && row->second != original) {
        verdict.violation(
            "billing_row_wrong_customer",
            "user " + user.user_id + "'s billing row names " + row->second + ", not its customer " +
                original,
            {{"user_id", user.user_id}, {"customer", original}, {"row", row->second}});
      }
      const int expected = user.stripe_subscription_id ? 1 : 0;
      if (subscriptions_per_customer[original] != expected) {
        verdict.violation(subscriptions_per_customer[original] < expected ? "subscription_lost"
                                                                          : "subscriptions_added",
                          "customer " + original + " has " +
                              std::to_string(subscriptions_per_customer[original]) +
                              " subscriptions, had " + std::to_string(expected),
                          {{"customer", original}});
      }
    }
    for (const auto& event : world.stripe.ledger.objects()) {
      if (event.kind != "created" || event.request_seq == 0) continue;
      if (event.object_type == "invoice" || event.object_type == "subscription") {
        const char* article = event.object_type == "invoice" ? "an " : "a ";
        verdict.violation(
            event.object_type + "_created",
            article + event.object_type + " was created during the run: " + event.object_id,
            {{"object_id", event.object_id}, {"request_seq", event.request_seq}});
      }
    }
    return verdict.finish(std::to_string(world.stripe.customers.size()) + " Stripe customers");
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(NoDoubleBilling);
}  // namespace orgquake::invariants
