// A migrated user is the owner of its personal org: the org exists, its id is
// the user's, the user is its owner member with the owner role, and the org
// is the user's current org. No personal org or app_user without the other.
//
// Symptom codes (results::Evidence::symptom):
//   no_app_user               a migrated user has no app_user
//   no_personal_org           a migrated user has no personal org
//   not_org_member            a migrated user is not a member of its personal org
//   org_role_not_owner        a migrated user's role in its personal org is not owner
//   current_org_not_personal  a migrated user's current org is not its personal org
//   app_user_id_mismatch      a migrated user's app_user id differs from its personal org's id
//   orphan_personal_org       a personal org whose owner has no app_user
//   orphan_app_user           an app_user whose legacy user owns no personal org
#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

class CompleteOwnership final : public Invariant {
 public:
  std::string_view name() const override { return "complete_ownership"; }
  std::string_view description() const override {
    return "each migrated user owns its personal org with the owner role; no orphan org or user";
  }

  Verdict check(const ObservedWorld& world) const override {
    VerdictBuilder verdict("complete ownership");
    auto& db = world.database;
    const auto broken = db.exec(
        "SELECT s.user_id, u.id IS NULL, o.id IS NULL, u.current_org_id IS DISTINCT FROM o.id, "
        "m.user_id IS NULL, r.name "
        "FROM user_settings s "
        "LEFT JOIN app_user u ON u.legacy_user_id = s.user_id "
        "LEFT JOIN org o ON o.owner_user_id = s.user_id AND o.kind = 'personal' "
        "LEFT JOIN org_member m ON m.org_id = o.id AND m.user_id = u.id "
        "LEFT JOIN role r ON r.id = m.role_id "
        "WHERE s.already_migrated AND (u.id IS NULL OR o.id IS NULL OR u.id <> o.id "
        "OR u.current_org_id IS DISTINCT FROM o.id OR m.user_id IS NULL OR r.name <> 'owner')");
    for (int i = 0; i < broken.rows(); ++i) {
      std::string what = "migrated user " + std::string(broken.text(i, 0));
      std::string symptom;
      if (broken.boolean(i, 1)) {
        symptom = "no_app_user";
        what += " has no app_user";
      } else if (broken.boolean(i, 2)) {
        symptom = "no_personal_org";
        what += " has no personal org";
      } else if (broken.boolean(i, 4)) {
        symptom = "not_org_member";
        what += " is not a member of its personal org";
      } else if (!broken.is_null(i, 5) && broken.text(i, 5) != "owner") {
        symptom = "org_role_not_owner";
        what += " has role " + std::string(broken.text(i, 5)) + " in its personal org, not owner";
      } else if (broken.boolean(i, 3)) {
        symptom = "current_org_not_personal";
        what += " has another current org than its personal org";
      } else {
        symptom = "app_user_id_mismatch";
        what += "'s app_user id differs from its personal org id";
      }
      verdict.violation(std::move(symptom), what, {{"user_id", broken.text(i, 0)}});
    }
    const auto orphan_orgs = db.exec(
        "SELECT o.id FROM org o WHERE o.kind = 'personal' AND NOT EXISTS "
        "(SELECT 1 FROM app_user u WHERE u.legacy_user_id = o.owner_user_id)");
    for (int i = 0; i < orphan_orgs.rows(); ++i) {
      verdict.violation("orphan_personal_org",
                        "personal org " + std::string(orphan_orgs.text(i, 0)) + " has no app_user",
                        {{"org_id", orphan_orgs.text(i, 0)}});
    }
    const auto orphan_users = db.exec(
        "SELECT u.legacy_user_id FROM app_user u WHERE NOT EXISTS "
        "(SELECT 1 FROM org o WHERE o.owner_user_id = u.legacy_user_id AND o.kind = 'personal')");
    for (int i = 0; i < orphan_users.rows(); ++i) {
      verdict.violation(
          "orphan_app_user",
          "app_user of " + std::string(orphan_users.text(i, 0)) + " has no personal org",
          {{"user_id", orphan_users.text(i, 0)}});
    }
    const auto migrated =
        db.exec("SELECT count(*) FROM user_settings WHERE already_migrated").integer(0, 0);
    return verdict.finish(std::to_string(migrated) + " migrated users");
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(CompleteOwnership);
}  // namespace orgquake::invariants
