#pragma once

// The dual-path application code of the migration guide's checklist (step
// 3, "deploy code with dual-path logic"): a request reads the rollout flag
// and serves the user through the legacy model or the organization model,
// then compares, Scientist-style, the other path's answers for the same user
// where they can be read without changing anything. The served answers and
// the comparison go into the history, where the rollout invariants
// (non_breaking_rollout, gradual_rollout) judge them.

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "migrator/migrator.hpp"
#include "migrator/model.hpp"
#include "migrator/rollout.hpp"

namespace orgquake::migrator {

/// What a request answers for a user, whichever path served it: what a
/// client of the application sees of its account.
struct UserAnswers {
  LegacySettings settings;  ///< username, email, model, version, settings
  /// Legacy: user_settings.llm_api_key. Org: the key of the user's
  /// membership in their personal org.
  std::optional<std::string> api_key;
  /// The Stripe customers billed for the user. Legacy: the billing rows of
  /// the user. Org: those of the personal org.
  std::vector<std::string> billing;
  bool operator==(const UserAnswers&) const = default;
};

/// One request, served.
struct ServedRequest {
  RolloutFlag flag;  ///< as the request read it
  bool org_path = false;
  UserAnswers answers;
  std::optional<std::string> org_id;  ///< the personal org, on the org path
  /// On the legacy path: a migration an org-path request had begun (its
  /// journal is written, its commit is not) was finished first. Its
  /// external half (the LiteLLM team, Stripe metadata naming the org) is
  /// out there already, and only finishing it makes the systems agree; a
  /// rollback leaves no half-migrated user behind.
  bool resumed = false;
  /// Whether the other path could be read without changing anything (the
  /// org path cannot, for a user not migrated yet: reading it migrates).
  bool compared = false;
  /// The fields where the two paths answered differently and the
  /// difference is not one migration makes on purpose (see compare_paths).
  std::vector<std::string> mismatches;
};

/// The legacy path's answers; nullopt when no legacy user has the id.
std::optional<UserAnswers> read_legacy_answers(io::PgConnection& pg, const std::string& id);
/// The org path's answers from the org model; nullopt when the user has no
/// app_user, personal org and membership yet.
std::optional<UserAnswers> read_org_answers(io::PgConnection& pg, const std::string& id,
                                            std::string* org_id = nullptr);

/// The fields where `legacy` and `org` differ, except the key when the
/// legacy key no longer works at LiteLLM (migration replaced it). Asks
/// LiteLLM only when the keys differ.
std::vector<std::string> compare_paths(MigratorContext& ctx, const UserAnswers& legacy,
                                       const UserAnswers& org);

/// A request of the application under rollout: the flag decides the path;
/// the org path is the migrator's verified lookup (which migrates a user
/// not migrated yet), the legacy path reads the legacy rows and migrates
/// nothing, except to finish a migration begun before (ServedRequest::resumed).
/// Throws UnknownUser when no legacy user has the id.
ServedRequest serve_request(Migrator& migrator, MigratorContext& ctx, const std::string& id,
                            const LookupOptions& options);

/// The answers as the history records them (docs/worker-protocol.md).
nlohmann::json to_json(const UserAnswers& answers);
/// The value of a serve's `ok` (docs/worker-protocol.md) but for
/// "migrated_here", which only the caller's stats know.
nlohmann::json to_json(const ServedRequest& served);

}  // namespace orgquake::migrator
