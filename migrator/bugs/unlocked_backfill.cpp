// A second migration path that skips the lock: the batch backfill migrates
// users without taking the per-user lock that lookups take, so a backfill
// and a lookup migrate one user at once, with no fencing between them.
//
// Source: the organization-migration strategies' one-time backfill, written
// as a script beside the application instead of through its locked path.
#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class UnlockedBackfill final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:unlocked_backfill"; }

  bool backfill_user(MigratorContext& ctx, const std::string& id) override {
    migrate_user(ctx, id, 0);  // "the backfill runs alone" — it does not
    return true;
  }
};

}  // namespace

CatalogBug unlocked_backfill() {
  return {"unlocked_backfill",
          "the backfill migrates users without the per-user lock the lookups take",
          "a one-time backfill script written beside the application's locked path",
          "",
          [] { return std::make_unique<UnlockedBackfill>(); },
          {"migration_under_lease/migrated_without_lease"}};
}

}  // namespace orgquake::migrator::bugs
