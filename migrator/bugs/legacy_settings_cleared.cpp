// The migration "cleans up" the legacy row: the key it moved to the org
// membership is cleared from user_settings. The legacy read path, which
// must keep answering as before during a gradual rollout, now returns a
// user without a key.
//
// Source: the organization-migration strategies' non-breaking principle,
// broken by a migration that treats the legacy row as its own to change.
#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class LegacySettingsCleared final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:legacy_settings_cleared"; }

 protected:
  void mark_legacy_row_migrated(MigratorContext& ctx, const std::string& id) override {
    // The legacy copy of the key "is not needed any more".
    ctx.pg.exec(
        "UPDATE user_settings SET already_migrated = true, llm_api_key = NULL WHERE user_id = $1",
        {id});
  }
};

}  // namespace

CatalogBug legacy_settings_cleared() {
  return {"legacy_settings_cleared",
          "clears the legacy row's llm_api_key in the migration's transaction",
          "a migration that breaks the non-breaking principle of a gradual rollout",
          "",
          [] { return std::make_unique<LegacySettingsCleared>(); },
          {"legacy_read_path/legacy_fields_changed", "legacy_read_path/legacy_row_missing"}};
}

}  // namespace orgquake::migrator::bugs
