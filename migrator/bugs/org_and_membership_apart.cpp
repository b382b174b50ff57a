// The org (with its app_user) and the owner membership are committed in two
// transactions. A crash between them leaves a user whose current org exists
// but who is no member of it: every lookup's verification refuses the user,
// and because the app_user exists, no retry migrates it again.
//
// Source: ORM code that calls session.commit() after creating the org to
// get its id, then adds the membership in a second unit of work.
#include "migrator/bugs/bugs.hpp"
#include "migrator/failpoints/failpoint.hpp"
#include "migrator/io/pg_transaction.hpp"
#include "migrator/personal_org_rows.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class OrgAndMembershipApart final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:org_and_membership_apart"; }

 protected:
  bool persist(MigratorContext& ctx, const std::string& id, const std::string& org_id,
               const LegacyRow& legacy, const std::string& working_key, const std::string& customer,
               bool had_customer, std::int64_t fencing_token) override {
    {
      io::PgTransaction org_tx(ctx.pg);
      check_fence(ctx, id, fencing_token);
      if (!ctx.pg.exec("SELECT 1 FROM org WHERE id = $1", {org_id}).empty()) {
        org_tx.commit();  // "the org exists, so the migration is done"
        return false;
      }
      insert_org_and_user(ctx.pg, id, legacy.username, legacy.email);
      org_tx.commit();  // the first unit of work
    }
    ORGQUAKE_FAILPOINT(migrate_before_commit);
    io::PgTransaction member_tx(ctx.pg);
    insert_owner_membership(ctx.pg, id, working_key);
    persist_billing_row(ctx, id, org_id, customer, had_customer);
    mark_legacy_row_migrated(ctx, id);
    member_tx.commit();
    return true;
  }
};

}  // namespace

CatalogBug org_and_membership_apart() {
  return {"org_and_membership_apart",
          "commits the org and the owner membership in separate transactions",
          "ORM code that commits the org to get its id, then adds the membership",
          "",
          [] { return std::make_unique<OrgAndMembershipApart>(); },
          // A crash between the two commits leaves an org on an unmigrated user.
          {"no_partial_migration/unmigrated_has_org", "complete_ownership/not_org_member",
           "complete_ownership/orphan_personal_org"}};
}

}  // namespace orgquake::migrator::bugs
