#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/random.hpp"

namespace orgquake::fakes {

/// A LiteLLM internal user. Budgets are USD; a missing max_budget is unlimited.
struct LlmUser {
  std::string user_id;
  std::optional<std::string> user_email;
  std::optional<double> max_budget;
  double spend = 0;
  std::vector<std::string> teams;
  std::vector<std::string> models;
  std::string user_role = "internal_user";
  nlohmann::json metadata = nlohmann::json::object();
  std::int64_t created_ms = 0;
};

struct LlmTeamMember {
  std::string user_id;
  std::optional<std::string> user_email;
  std::string role = "user";  ///< "admin" or "user"
};

/// A user's own budget and spend inside one team (LiteLLM_TeamMembership).
struct LlmTeamMembership {
  std::string user_id;
  double spend = 0;
  std::optional<double> max_budget_in_team;
};

struct LlmTeam {
  std::string team_id;
  std::optional<std::string> team_alias;
  std::optional<double> max_budget;
  double spend = 0;
  std::vector<LlmTeamMember> members_with_roles;
  std::vector<LlmTeamMembership> memberships;
  std::vector<std::string> models;
  nlohmann::json metadata = nlohmann::json::object();
  bool blocked = false;
  std::int64_t created_ms = 0;

  const LlmTeamMember* member(const std::string& user_id) const;
  LlmTeamMembership* membership(const std::string& user_id);
};

/// A virtual key. LiteLLM keeps only the hash (`token`); the fake also keeps
/// the text so the ledger can show which key went where.
struct LlmVirtualKey {
  std::string key;    ///< "sk-..."
  std::string token;  ///< sha256_hex(key)
  std::optional<std::string> key_alias;
  std::optional<std::string> user_id;
  std::optional<std::string> team_id;
  std::optional<double> max_budget;
  double spend = 0;
  bool blocked = false;
  std::vector<std::string> models;
  nlohmann::json metadata = nlohmann::json::object();
  std::int64_t created_ms = 0;

  /// "sk-...abcd", as LiteLLM shows a key it does not reveal.
  std::string key_name() const;
};

/// ISO 8601 UTC text of Unix ms, as LiteLLM's datetimes serialize.
std::string iso_time(std::int64_t unix_ms);

nlohmann::json to_json(const LlmUser& user);
nlohmann::json to_json(const LlmTeam& team);
nlohmann::json to_json(const LlmTeamMembership& membership, const std::string& team_id);
/// The key's info as /key/info and /key/list show it: the token, never the key text.
nlohmann::json to_json(const LlmVirtualKey& key);

/// The users, teams and keys of the fake LiteLLM proxy. Pure data; no HTTP.
class LitellmState {
 public:
  explicit LitellmState(Rng rng) : rng_(rng) {}

  std::string new_uuid();
  /// "sk-" + 22 URL-safe characters, as secrets.token_urlsafe(16) gives.
  std::string new_key();

  LlmUser* user(const std::string& id);
  LlmUser* user_by_email(const std::string& email);
  LlmUser& put_user(LlmUser user);
  bool erase_user(const std::string& id);
  std::vector<const LlmUser*> users() const;

  LlmTeam* team(const std::string& id);
  LlmTeam& put_team(LlmTeam team);
  bool erase_team(const std::string& id);
  std::vector<const LlmTeam*> teams() const;

  /// A key by its text ("sk-...") or by its token (the hash).
  LlmVirtualKey* key(const std::string& key_or_token);
  LlmVirtualKey& put_key(LlmVirtualKey key);
  bool erase_key(const std::string& token);
  std::vector<const LlmVirtualKey*> keys() const;  ///< oldest first

 private:
  Rng rng_;
  std::map<std::string, LlmUser> users_;
  std::map<std::string, LlmTeam> teams_;
  std::map<std::string, LlmVirtualKey> keys_;  ///< by token
  std::vector<std::string> key_order_;
};

}  // namespace orgquake::fakes
