// The database part of a migration is one transaction: a user is either
// fully migrated or untouched, never in between.
#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

class NoPartialMigration final : public Invariant {
 public:
  std::string_view name() const override { return "no_partial_migration"; }
  std::string_view description() const override {
    return "no user is half-migrated in the database: org rows exist exactly for migrated users";
  }

  Verdict check(const ObservedWorld& world) const override {
    VerdictBuilder verdict("no partial migration");
    auto& db = world.database;
    const auto partial = db.exec(
        "SELECT s.user_id, s.already_migrated, "
        "EXISTS (SELECT 1 FROM org o WHERE o.owner_user_id = s.user_id AND o.kind = 'personal'), "
        "EXISTS (SELECT 1 FROM app_user u WHERE u.legacy_user_id = s.user_id), "
        "(SELECT count(*) FROM conversation_metadata c WHERE c.user_id = s.user_id), "
        "(SELECT count(*) FROM conversation_metadata_org c JOIN conversation_metadata l "
        " USING (conversation_id) WHERE l.user_id = s.user_id), "
        "EXISTS (SELECT 1 FROM stripe_customers b WHERE b.user_id = s.user_id AND b.org_id IS "
        "NULL), "
        "EXISTS (SELECT 1 FROM stripe_customers b WHERE b.user_id = s.user_id AND b.org_id IS NOT "
        "NULL) "
        "FROM user_settings s");
    for (int i = 0; i < partial.rows(); ++i) {
      const bool migrated = partial.boolean(i, 1);
      const bool org = partial.boolean(i, 2), app_user = partial.boolean(i, 3);
      const auto conversations = partial.integer(i, 4), moved = partial.integer(i, 5);
      const bool unpointed = partial.boolean(i, 6), pointed = partial.boolean(i, 7);
      std::vector<std::string> problems;
      if (migrated) {
        if (!org) problems.push_back("no personal org");
        if (!app_user) problems.push_back("no app_user");
        if (moved != conversations) {
          problems.push_back(std::to_string(moved) + " of " + std::to_string(conversations) +
                             " conversations copied");
        }
        if (unpointed) problems.push_back("a billing row not pointed at the org");
      } else {
        if (org) problems.push_back("a personal org");
        if (app_user) problems.push_back("an app_user");
        if (moved > 0) problems.push_back("copied conversations");
        if (pointed) problems.push_back("a billing row pointed at an org");
      }
      if (problems.empty()) continue;
      std::string what = std::string(migrated ? "migrated" : "unmigrated") + " user " +
                         std::string(partial.text(i, 0)) + (migrated ? " lacks " : " already has ");
      for (std::size_t p = 0; p < problems.size(); ++p) what += (p ? ", " : "") + problems[p];
      verdict.violation(what, {{"user_id", partial.text(i, 0)}, {"already_migrated", migrated}});
    }
    return verdict.finish(std::to_string(partial.rows()) + " users");
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(NoPartialMigration);
}  // namespace orgquake::invariants
