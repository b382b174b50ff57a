#pragma once

#include <optional>
#include <string>

#include "migrator/io/pg_connection.hpp"

namespace orgquake::migrator {

/// The rows that make a legacy user a member of the org model, inserted in
/// the caller's transaction: the personal org (its id is the user's), a
/// failpoint, then the app_user, the owner membership holding `llm_api_key`,
/// and the user's conversations copied to the org. Billing rows and the
/// migrated flag are the caller's: that is where migrators differ.
void insert_personal_org_rows(io::PgConnection& pg, const std::string& legacy_user_id,
                              const std::string& username, const std::optional<std::string>& email,
                              const std::string& llm_api_key);

/// The first half of insert_personal_org_rows: the personal org, the
/// migrate_after_org_insert failpoint, the app_user.
void insert_org_and_user(io::PgConnection& pg, const std::string& legacy_user_id,
                         const std::string& username, const std::optional<std::string>& email);

/// The second half: the owner membership and the conversations copied to the org.
void insert_owner_membership(io::PgConnection& pg, const std::string& legacy_user_id,
                             const std::string& llm_api_key);

}  // namespace orgquake::migrator
