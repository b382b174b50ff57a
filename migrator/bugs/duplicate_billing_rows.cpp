// The org's billing row is inserted beside the user's instead of updating
// it: the user now has two stripe_customers rows, and code that picks "the"
// row bills one or the other, or both.
//
// Source: the seed system's persist step (`INSERT INTO stripe_customers`
// for the org, the user's row left in place).
#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class DuplicateBillingRows final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:duplicate_billing_rows"; }

 protected:
  void persist_billing_row(MigratorContext& ctx, const std::string& id, const std::string& org_id,
                           const std::string& customer, bool) override {
    ctx.pg.exec(
        "INSERT INTO stripe_customers (user_id, org_id, stripe_customer_id) VALUES ($1, $2, $3)",
        {id, org_id, customer});
  }
};

}  // namespace

CatalogBug duplicate_billing_rows() {
  return {"duplicate_billing_rows",
          "inserts the org's stripe_customers row beside the user's instead of updating it",
          "the seed system's persist step",
          "",
          [] { return std::make_unique<DuplicateBillingRows>(); },
          {"no_double_billing/duplicate_billing_rows"}};
}

}  // namespace orgquake::migrator::bugs
