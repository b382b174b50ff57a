// At most one personal org per owner. The schema's partial unique index
// enforces it where the schema is ours; an external database may lack it.
//
// Symptom codes (results::Evidence::symptom):
//   several_personal_orgs  a user owns more than one personal org
//   no_personal_org        a migrated user owns no personal org
#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

class OnePersonalOrgPerUser final : public Invariant {
 public:
  std::string_view name() const override { return "one_personal_org_per_user"; }
  std::string_view description() const override {
    return "every user owns at most one personal org, and a migrated user exactly one";
  }

  Verdict check(const ObservedWorld& world) const override {
    VerdictBuilder verdict("one personal org per user");
    const auto many = world.database.exec(
        "SELECT owner_user_id, count(*), string_agg(id::text, ',' ORDER BY id) FROM org "
        "WHERE kind = 'personal' GROUP BY owner_user_id HAVING count(*) > 1");
    for (int i = 0; i < many.rows(); ++i) {
      verdict.violation("several_personal_orgs",
                        "user " + std::string(many.text(i, 0)) + " owns " +
                            std::string(many.text(i, 1)) + " personal orgs",
                        {{"owner_user_id", many.text(i, 0)}, {"org_ids", many.text(i, 2)}});
    }
    const auto none = world.database.exec(
        "SELECT s.user_id FROM user_settings s WHERE s.already_migrated AND NOT EXISTS "
        "(SELECT 1 FROM org o WHERE o.owner_user_id = s.user_id AND o.kind = 'personal')");
    for (int i = 0; i < none.rows(); ++i) {
      verdict.violation("no_personal_org",
                        "migrated user " + std::string(none.text(i, 0)) + " has no personal org",
                        {{"user_id", none.text(i, 0)}});
    }
    const auto users = world.database.exec("SELECT count(*) FROM user_settings").integer(0, 0);
    return verdict.finish(std::to_string(users) + " users");
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(OnePersonalOrgPerUser);
}  // namespace orgquake::invariants
