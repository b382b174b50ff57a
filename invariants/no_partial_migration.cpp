// The database part of a migration is one transaction: a user is either
// fully migrated or untouched, never in between.
//
// One piece of evidence per user; its symptom is the first of its problems
// in this order, and data "symptoms" lists them all.
// Symptom codes (results::Evidence::symptom):
//   no_personal_org                  a migrated user has no personal org
//   no_app_user                      a migrated user has no app_user
//   conversations_not_copied         a migrated user's conversations are not all in the org's table
//   billing_row_not_on_org           a migrated user has a stripe_customers row with no org_id
//   unmigrated_has_org               an unmigrated user already has a personal org
//   unmigrated_has_app_user          an unmigrated user already has an app_user
//   unmigrated_conversations_copied  an unmigrated user's conversations were copied to an org
//   unmigrated_billing_row_on_org    an unmigrated user has a stripe_customers row naming an org
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
      std::vector<std::string> problems, symptoms;
      const auto problem = [&](const char* symptom, std::string text) {
        symptoms.emplace_back(symptom);
        problems.push_back(std::move(text));
      };
      if (migrated) {
        if (!org) problem("no_personal_org", "no personal org");
        if (!app_user) problem("no_app_user", "no app_user");
        if (moved != conversations) {
          problem("conversations_not_copied", std::to_string(moved) + " of " +
                                                  std::to_string(conversations) +
                                                  " conversations copied");
        }
        if (unpointed) problem("billing_row_not_on_org", "a billing row not pointed at the org");
      } else {
        if (org) problem("unmigrated_has_org", "a personal org");
        if (app_user) problem("unmigrated_has_app_user", "an app_user");
        if (moved > 0) problem("unmigrated_conversations_copied", "copied conversations");
        if (pointed) problem("unmigrated_billing_row_on_org", "a billing row pointed at an org");
      }
      if (problems.empty()) continue;
      std::string what = std::string(migrated ? "migrated" : "unmigrated") + " user " +
                         std::string(partial.text(i, 0)) + (migrated ? " lacks " : " already has ");
      for (std::size_t p = 0; p < problems.size(); ++p) what += (p ? ", " : "") + problems[p];
      verdict.violation(symptoms.front(), what,
                        {{"user_id", partial.text(i, 0)},
                         {"already_migrated", migrated},
                         {"symptoms", symptoms}});
    }
    return verdict.finish(std::to_string(partial.rows()) + " users");
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(NoPartialMigration);
}  // namespace orgquake::invariants
