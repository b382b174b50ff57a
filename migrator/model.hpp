#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace orgquake::migrator {

struct Role {
  int id = 0;
  std::string name;
  int rank = 0;
  bool operator==(const Role&) const = default;
};

struct Org {
  std::string id;
  std::string name;
  std::string kind;  ///< "personal" or "team"
  std::string owner_user_id;
  std::optional<std::string> contact_email;
  bool operator==(const Org&) const = default;
};

struct Membership {
  Org org;
  Role role;
  std::optional<std::string> llm_api_key;
  bool operator==(const Membership&) const = default;
};

/// A migrated user as a lookup returns it: the user with its personal org
/// and every membership with its role, whichever loading strategy built it.
struct LoadedUser {
  std::string id;  ///< app_user.id, equal to the personal org's id
  std::string legacy_user_id;
  std::optional<std::string> current_org_id;
  std::optional<std::string> email;
  std::optional<Org> personal_org;
  std::vector<Membership> memberships;  ///< ordered by org id
  bool operator==(const LoadedUser&) const = default;
};

std::ostream& operator<<(std::ostream& out, const LoadedUser& user);

/// What the legacy endpoints read for a user; it must not change when the
/// user is migrated (backward compatibility).
struct LegacySettings {
  std::string user_id;
  std::string username;
  std::optional<std::string> email;
  std::optional<std::string> llm_api_key;
  std::optional<std::string> llm_model;
  int user_version = 0;
  std::string settings_json;
  bool operator==(const LegacySettings&) const = default;
};

}  // namespace orgquake::migrator
