#include "migrator/personal_org_rows.hpp"

#include "migrator/failpoints/failpoint.hpp"

namespace orgquake::migrator {

void insert_org_and_user(io::PgConnection& pg, const std::string& id, const std::string& username,
                         const std::optional<std::string>& email) {
  const std::string& org_id = id;  // personal org convention: the org's id is the user's
  pg.exec(
      "INSERT INTO org (id, name, kind, owner_user_id, contact_email) "
      "VALUES ($1, $2, 'personal', $3, $4)",
      {org_id, username, id, email});
  ORGQUAKE_FAILPOINT(migrate_after_org_insert);
  pg.exec(
      "INSERT INTO app_user (id, legacy_user_id, current_org_id, email) VALUES ($1, $2, $1, $3)",
      {org_id, id, email});
}

void insert_owner_membership(io::PgConnection& pg, const std::string& id,
                             const std::string& llm_api_key) {
  const std::string& org_id = id;
  pg.exec(
      "INSERT INTO org_member (org_id, user_id, role_id, llm_api_key) "
      "SELECT $1, $1, id, $2 FROM role WHERE name = 'owner'",
      {org_id, llm_api_key});
  pg.exec(
      "INSERT INTO conversation_metadata_org (conversation_id, user_id, org_id) "
      "SELECT conversation_id, $2, $2 FROM conversation_metadata WHERE user_id = $1",
      {id, org_id});
}

void insert_personal_org_rows(io::PgConnection& pg, const std::string& id,
                              const std::string& username, const std::optional<std::string>& email,
                              const std::string& llm_api_key) {
  insert_org_and_user(pg, id, username, email);
  insert_owner_membership(pg, id, llm_api_key);
}

}  // namespace orgquake::migrator
