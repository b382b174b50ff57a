// A missing Stripe customer is deduplicated by searching for one first and
// creating one only when the search finds none, with no Idempotency-Key and
// nothing journaled. Stripe's search lags its writes by seconds, so a retry
// (or a second holder) finds nothing and creates a second customer: the
// org is billed twice.
//
// Source: "search before create" dedupe, which Stripe's own documentation
// warns against (search results are eventually consistent).
#include <fmt/format.h>

#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class SearchBeforeCreateCustomer final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:search_before_create_customer"; }

 protected:
  std::string create_customer(MigratorContext& ctx, const std::string&, const std::string& org_id,
                              const LegacyRow& legacy, const Journal&) override {
    const auto found = ctx.stripe.search_customers(fmt::format("metadata['org_id']:'{}'", org_id));
    if (!found.at("data").empty()) return found["data"][0].at("id");
    StripeForm form{{"name", legacy.username}, {"metadata[org_id]", org_id}};
    if (legacy.email) form.emplace_back("email", *legacy.email);
    // A fresh key per attempt: each attempt is a new customer.
    return ctx.stripe.post("/v1/customers", form, fmt::format("{:016x}", ctx.rng.next())).at("id");
  }
};

}  // namespace

CatalogBug search_before_create_customer() {
  return {"search_before_create_customer",
          "creates a Stripe customer only if a search finds none; the search lags writes",
          "search-before-create dedupe against Stripe's eventually consistent search",
          "",
          [] { return std::make_unique<SearchBeforeCreateCustomer>(); },
          {"no_double_billing/customers_per_org"}};
}

}  // namespace orgquake::migrator::bugs
