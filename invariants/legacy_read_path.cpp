// Backward compatibility: the legacy endpoints read user_settings, and what
// they return for a user must not change because the user was migrated.
//
// Symptom codes (results::Evidence::symptom):
//   legacy_row_missing     the legacy read of a user's settings finds no row
//   legacy_fields_changed  the row differs from the fixture's (data: "fields", the changed ones)
#include <nlohmann/json.hpp>

#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

class LegacyReadPath final : public Invariant {
 public:
  std::string_view name() const override { return "legacy_read_path"; }
  std::string_view description() const override {
    return "the legacy read of every user's settings still answers with the same data";
  }

  Verdict check(const ObservedWorld& world) const override {
    VerdictBuilder verdict("legacy read path");
    for (const auto& user : world.fixture.users) {
      const auto r = world.database.exec(
          "SELECT username, email, llm_api_key, llm_model, user_version, settings::text "
          "FROM user_settings WHERE user_id = $1",
          {user.user_id});
      if (r.empty()) {
        verdict.violation("legacy_row_missing",
                          "the legacy read of user " + user.user_id + " finds nothing",
                          {{"user_id", user.user_id}});
        continue;
      }
      std::vector<std::string> changed;
      if (r.text(0, 0) != user.username) changed.push_back("username");
      if (r.optional_text(0, 1) != std::optional<std::string>(user.email))
        changed.push_back("email");
      if (r.optional_text(0, 2) != user.llm_api_key) changed.push_back("llm_api_key");
      if (r.optional_text(0, 3) != std::optional<std::string>(user.llm_model))
        changed.push_back("llm_model");
      if (r.integer(0, 4) != user.user_version) changed.push_back("user_version");
      // jsonb normalizes spacing and key order: compare values, not text.
      if (nlohmann::json::parse(r.text(0, 5)) != nlohmann::json::parse(user.settings_json)) {
        changed.push_back("settings");
      }
      if (changed.empty()) continue;
      std::string what = "the legacy read of user " + user.user_id + " changed:";
      for (const auto& field : changed) what += " " + field;
      verdict.violation("legacy_fields_changed", what,
                        {{"user_id", user.user_id}, {"fields", changed}});
    }
    return verdict.finish(std::to_string(world.fixture.users.size()) + " users");
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(LegacyReadPath);
}  // namespace orgquake::invariants
