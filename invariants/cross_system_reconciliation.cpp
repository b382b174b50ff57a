// Cross-system reconciliation: PostgreSQL, Stripe and LiteLLM agree on which
// orgs exist. Every org id that Stripe metadata names (a customer's or a
// subscription's org_id) and every LiteLLM team is an org in PostgreSQL, and
// every org in PostgreSQL has its LiteLLM team and a Stripe customer that
// names it. A migration that made its external calls and then lost its
// transaction, a rollback that restored the database but not the services
// around it, or an org id drawn afresh on each attempt leaves one side
// naming what the other never had. The invariants that judge one system at
// a time do not see it: each side is consistent on its own.
//
// Symptom codes (results::Evidence::symptom):
//   stripe_names_unknown_org  a Stripe customer or subscription names an org_id PostgreSQL lacks
//   team_without_org          a LiteLLM team whose id is no org in PostgreSQL
//   org_without_team          an org in PostgreSQL without its LiteLLM team
//   org_without_customer      an org in PostgreSQL that no Stripe customer names
#include <set>
#include <string>

#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

class CrossSystemReconciliation final : public Invariant {
 public:
  std::string_view name() const override { return "cross_system_reconciliation"; }
  std::string_view description() const override {
    return "every org named in Stripe or LiteLLM exists in PostgreSQL, and every org there is "
           "named in both";
  }

  Verdict check(const ObservedWorld& world) const override {
    VerdictBuilder verdict("cross-system reconciliation");
    std::set<std::string, std::less<>> orgs;
    const auto rows = world.database.exec("SELECT id::text FROM org");
    for (int i = 0; i < rows.rows(); ++i) orgs.emplace(rows.text(i, 0));

    std::set<std::string, std::less<>> billed;  // orgs some live customer names
    for (const auto& customer : world.stripe.customers) {
      if (customer.deleted) continue;
      const auto org = metadata_value(customer.metadata, "org_id");
      if (org.empty()) continue;
      billed.insert(org);
      if (orgs.contains(org)) continue;
      verdict.violation("stripe_names_unknown_org",
                        "Stripe customer " + customer.id + " names org " + org +
                            ", which PostgreSQL does not have",
                        {{"customer", customer.id}, {"org_id", org}});
    }
    for (const auto& subscription : world.stripe.subscriptions) {
      const auto org = metadata_value(subscription.metadata, "org_id");
      if (org.empty() || orgs.contains(org)) continue;
      verdict.violation("stripe_names_unknown_org",
                        "Stripe subscription " + subscription.id + " names org " + org +
                            ", which PostgreSQL does not have",
                        {{"subscription", subscription.id}, {"org_id", org}});
    }
    std::set<std::string, std::less<>> teams;
    for (const auto& team : world.litellm.teams) {
      teams.insert(team.team_id);
      if (orgs.contains(team.team_id)) continue;
      verdict.violation("team_without_org",
                        "LiteLLM team " + team.team_id + " is no org in PostgreSQL",
                        {{"team_id", team.team_id}});
    }
    for (const auto& org : orgs) {
      if (!teams.contains(org)) {
        verdict.violation("org_without_team", "org " + org + " has no LiteLLM team",
                          {{"org_id", org}});
      }
      if (!billed.contains(org)) {
        verdict.violation("org_without_customer", "org " + org + " is named by no Stripe customer",
                          {{"org_id", org}});
      }
    }
    return verdict.finish(std::to_string(orgs.size()) + " orgs, " +
                          std::to_string(world.litellm.teams.size()) + " LiteLLM teams, " +
                          std::to_string(world.stripe.customers.size()) + " Stripe customers");
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(CrossSystemReconciliation);
}  // namespace orgquake::invariants
