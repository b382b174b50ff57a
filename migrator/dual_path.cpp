#include "migrator/dual_path.hpp"

#include "migrator/loading.hpp"
#include "migrator/verification.hpp"

namespace orgquake::migrator {
namespace {

std::vector<std::string> billing_of(io::PgConnection& pg, const char* sql, const std::string& id) {
  const auto r = pg.exec(sql, {id});
  std::vector<std::string> customers;
  for (int row = 0; row < r.rows(); ++row) customers.emplace_back(r.text(row, 0));
  return customers;
}

/// Whether a migration of the user began (its journal row, written before
/// the first external call) and has not committed.
bool migration_begun(io::PgConnection& pg, const std::string& id) {
  const auto r = pg.exec(
      "SELECT 1 FROM migration_journal j JOIN user_settings s ON s.user_id = j.user_id "
      "WHERE j.user_id = $1 AND NOT s.already_migrated",
      {id});
  return !r.empty();
}

}  // namespace

std::optional<UserAnswers> read_legacy_answers(io::PgConnection& pg, const std::string& id) {
  auto settings = load_legacy_settings(pg, id);
  if (!settings) return std::nullopt;
  UserAnswers answers;
  answers.api_key = settings->llm_api_key;
  answers.settings = std::move(*settings);
  answers.billing = billing_of(
      pg, "SELECT stripe_customer_id FROM stripe_customers WHERE user_id = $1 ORDER BY id", id);
  return answers;
}

std::optional<UserAnswers> read_org_answers(io::PgConnection& pg, const std::string& id,
                                            std::string* org_id) {
  // Through the org model: the user's current org must be their personal
  // org, with the user a member; the name is the org's, the email the app
  // user's, the key the membership's. The rest lives on the legacy row only.
  const auto r = pg.exec(
      "SELECT s.user_id, o.name, u.email, m.llm_api_key, s.llm_model, s.user_version, "
      "       s.settings::text, o.id::text "
      "FROM app_user u "
      "JOIN org o ON o.id = u.current_org_id AND o.kind = 'personal' "
      "JOIN org_member m ON m.org_id = o.id AND m.user_id = u.id "
      "JOIN user_settings s ON s.user_id = u.legacy_user_id "
      "WHERE u.legacy_user_id = $1",
      {id});
  if (r.empty()) return std::nullopt;
  UserAnswers answers;
  answers.settings = LegacySettings{std::string(r.text(0, 0)), std::string(r.text(0, 1)),
                                    r.optional_text(0, 2),     std::nullopt,
                                    r.optional_text(0, 4),     static_cast<int>(r.integer(0, 5)),
                                    std::string(r.text(0, 6))};
  answers.api_key = r.optional_text(0, 3);
  answers.settings.llm_api_key = answers.api_key;
  const std::string org(r.text(0, 7));
  answers.billing = billing_of(
      pg, "SELECT stripe_customer_id FROM stripe_customers WHERE org_id = $1::uuid ORDER BY id",
      org);
  if (org_id != nullptr) *org_id = org;
  return answers;
}

std::vector<std::string> compare_paths(MigratorContext& ctx, const UserAnswers& legacy,
                                       const UserAnswers& org) {
  std::vector<std::string> mismatches;
  const auto& a = legacy.settings;
  const auto& b = org.settings;
  if (a.username != b.username) mismatches.emplace_back("username");
  if (a.email != b.email) mismatches.emplace_back("email");
  if (a.llm_model != b.llm_model) mismatches.emplace_back("llm_model");
  if (a.user_version != b.user_version) mismatches.emplace_back("user_version");
  // Both come from one jsonb column's text form: equal values, equal text.
  if (a.settings_json != b.settings_json) mismatches.emplace_back("settings");
  if (legacy.api_key != org.api_key) {
    // Migration replaces a key that no longer works; any other difference
    // is a key the org path lost or invented.
    const bool replaced = org.api_key.has_value() &&
                          (!legacy.api_key.has_value() || !ctx.litellm.key_works(*legacy.api_key));
    if (!replaced) mismatches.emplace_back("api_key");
  }
  // A user without a customer gets one with the org; the legacy billing
  // row names it too (the user keeps their rows).
  if (legacy.billing != org.billing) mismatches.emplace_back("billing");
  return mismatches;
}

ServedRequest serve_request(Migrator& migrator, MigratorContext& ctx, const std::string& id,
                            const LookupOptions& options) {
  ServedRequest served;
  served.flag = read_rollout_flag(ctx.pg);
  served.org_path = in_rollout(served.flag, id);
  std::optional<UserAnswers> other;
  if (served.org_path) {
    (void)migrator.get_user_verified(ctx, id, options);
    std::string org_id;
    auto answers = read_org_answers(ctx.pg, id, &org_id);
    if (!answers) {
      throw VerificationError(VerificationError::Problem::not_a_member, id,
                              "the verified lookup returned, but the org path finds no personal "
                              "org with the user as member");
    }
    served.answers = std::move(*answers);
    served.org_id = org_id;
    other = read_legacy_answers(ctx.pg, id);
  } else {
    if (migration_begun(ctx.pg, id)) {
      (void)migrator.get_user_verified(ctx, id, options);
      served.resumed = true;
    }
    auto answers = read_legacy_answers(ctx.pg, id);
    if (!answers) throw UnknownUser(id);
    served.answers = std::move(*answers);
    other = read_org_answers(ctx.pg, id);
  }
  if (other) {
    served.compared = true;
    served.mismatches = served.org_path ? compare_paths(ctx, *other, served.answers)
                                        : compare_paths(ctx, served.answers, *other);
  }
  return served;
}

nlohmann::json to_json(const UserAnswers& answers) {
  const auto& s = answers.settings;
  const auto optional = [](const std::optional<std::string>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  nlohmann::json settings = nlohmann::json::parse(s.settings_json, nullptr, false);
  if (settings.is_discarded()) settings = s.settings_json;
  return {{"username", s.username},
          {"email", optional(s.email)},
          {"llm_model", optional(s.llm_model)},
          {"user_version", s.user_version},
          {"settings", std::move(settings)},
          {"api_key", optional(answers.api_key)},
          {"billing", answers.billing}};
}

nlohmann::json to_json(const ServedRequest& served) {
  nlohmann::json value = {{"path", served.org_path ? "org" : "legacy"},
                          {"flag_version", served.flag.version},
                          {"answers", to_json(served.answers)},
                          {"resumed", served.resumed},
                          {"compared", served.compared},
                          {"mismatches", served.mismatches},
                          {"verified", true}};
  if (served.org_id) value["org_id"] = *served.org_id;
  return value;
}

}  // namespace orgquake::migrator
