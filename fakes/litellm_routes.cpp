#include "fakes/litellm_routes.hpp"

#include <algorithm>
#include <cmath>

#include <boost/beast/http/field.hpp>
#include <fmt/format.h>

#include "fakes/form_decoding.hpp"
#include "fakes/request_target.hpp"

namespace orgquake::fakes {
namespace {

using json = nlohmann::json;

/// A LiteLLM ProxyException.
struct LlmError {
  http::status status;
  std::string type;
  std::string message;
  std::string param;
};

LlmError bad_request(std::string message, std::string param = {}) {
  return LlmError{http::status::bad_request, "bad_request_error", std::move(message),
                  std::move(param)};
}

LlmError not_found(std::string message, std::string param = {}) {
  return LlmError{http::status::not_found, "not_found_error", std::move(message), std::move(param)};
}

LlmError auth_error(const std::string& message) {
  return LlmError{http::status::unauthorized, "auth_error", "Authentication Error, " + message,
                  "None"};
}

Response render(const LlmError& e) {
  return json_response(e.status, {{"error",
                                   {{"message", e.message},
                                    {"type", e.type},
                                    {"param", e.param.empty() ? "None" : e.param},
                                    {"code", std::to_string(static_cast<int>(e.status))}}}});
}

// ---- reading a JSON body the way pydantic would ----------------------------------

bool present(const json& body, const char* name) {
  return body.contains(name);
}

std::optional<std::string> opt_string(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw bad_request(fmt::format("{} must be a string", name), name);
  return it->get<std::string>();
}

std::string required_string(const json& body, const char* name) {
  auto value = opt_string(body, name);
  if (!value || value->empty()) throw bad_request(fmt::format("{} is required", name), name);
  return *value;
}

std::optional<double> opt_number(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_number()) throw bad_request(fmt::format("{} must be a number", name), name);
  const double value = it->get<double>();
  if (!std::isfinite(value) || value < 0) {
    throw bad_request(fmt::format("{} must be a non-negative number", name), name);
  }
  return value;
}

std::optional<bool> opt_bool(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) throw bad_request(fmt::format("{} must be a boolean", name), name);
  return it->get<bool>();
}

std::vector<std::string> string_list(const json& body, const char* name) {
  std::vector<std::string> out;
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return out;
  if (!it->is_array()) throw bad_request(fmt::format("{} must be a list of strings", name), name);
  for (const auto& item : *it) {
    if (!item.is_string()) {
      throw bad_request(fmt::format("{} must be a list of strings", name), name);
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

json opt_object(const json& body, const char* name) {
  const auto it = body.find(name);
  if (it == body.end() || it->is_null()) return json::object();
  if (!it->is_object()) throw bad_request(fmt::format("{} must be an object", name), name);
  return *it;
}

using Query = std::vector<FormField>;

std::optional<std::string> query_param(const Query& query, std::string_view name) {
  for (const auto& field : query) {
    if (field.name == name) return field.value;
  }
  return std::nullopt;
}

std::string required_query(const Query& query, const char* name) {
  auto value = query_param(query, name);
  if (!value || value->empty()) {
    throw bad_request(fmt::format("Missing query parameter: {}", name), name);
  }
  return *value;
}

json key_state(const LlmVirtualKey& key) {
  json state = to_json(key);
  state["key"] = key.key;  // the ledger keeps the text, so checkers can match DB rows
  return state;
}

// ---- endpoints ---------------------------------------------------------------------

class LitellmEndpoints {
 public:
  LitellmEndpoints(LitellmState& state, RequestContext& ctx) : s_(state), ctx_(ctx) {}

  json user_info(const json&, const Query& q) {
    const std::string id = required_query(q, "user_id");
    LlmUser* user = s_.user(id);
    if (user == nullptr) throw not_found(fmt::format("User user_id={} not found", id), "user_id");
    json keys = json::array();
    for (const auto* k : s_.keys()) {
      if (k->user_id == id) keys.push_back(to_json(*k));
    }
    json teams = json::array();
    for (const auto& team_id : user->teams) {
      if (LlmTeam* t = s_.team(team_id)) teams.push_back(to_json(*t));
    }
    return {{"user_id", id}, {"user_info", to_json(*user)}, {"keys", keys}, {"teams", teams}};
  }

  json user_new(const json& b, const Query&) {
    LlmUser user;
    user.user_id = opt_string(b, "user_id").value_or("");
    if (user.user_id.empty()) user.user_id = s_.new_uuid();
    if (s_.user(user.user_id) != nullptr) {
      throw bad_request(fmt::format("User with user_id={} already exists", user.user_id),
                        "user_id");
    }
    user.user_email = opt_string(b, "user_email");
    if (user.user_email && s_.user_by_email(*user.user_email) != nullptr) {
      throw bad_request(fmt::format("User with email={} already exists", *user.user_email),
                        "user_email");
    }
    user.max_budget = opt_number(b, "max_budget");
    user.spend = opt_number(b, "spend").value_or(0);
    user.models = string_list(b, "models");
    user.metadata = opt_object(b, "metadata");
    user.user_role = opt_string(b, "user_role").value_or("internal_user");
    user.created_ms = ctx_.now_ms;
    const auto teams = string_list(b, "teams");
    for (const auto& team_id : teams) {
      if (s_.team(team_id) == nullptr) {
        throw bad_request(fmt::format("Team id = {} does not exist", team_id), "teams");
      }
    }
    const bool auto_key = opt_bool(b, "auto_create_key").value_or(true);
    const LlmUser& stored = s_.put_user(user);
    record("created", "user", stored.user_id, to_json(stored));
    for (const auto& team_id : teams) add_member(*s_.team(team_id), stored.user_id, {}, "user", {});
    json out = to_json(*s_.user(user.user_id));
    out["key"] = nullptr;
    out["token"] = nullptr;
    out["expires"] = nullptr;
    if (auto_key) {
      LlmVirtualKey key;
      key.key = s_.new_key();
      key.user_id = user.user_id;
      key.key_alias = opt_string(b, "key_alias");
      key.models = user.models;
      key.created_ms = ctx_.now_ms;
      const LlmVirtualKey& k = s_.put_key(std::move(key));
      record("created", "key", k.token, key_state(k));
      out["key"] = k.key;
      out["token"] = k.token;
    }
    return out;
  }

  json user_update(const json& b, const Query&) {
    LlmUser* user = nullptr;
    if (auto id = opt_string(b, "user_id")) {
      user = s_.user(*id);
    } else if (auto email = opt_string(b, "user_email")) {
      user = s_.user_by_email(*email);
    } else {
      throw bad_request("user_id or user_email is required", "user_id");
    }
    if (user == nullptr) throw not_found("User not found", "user_id");
    // A field sent as null is set to null (max_budget null = unlimited); an
    // absent field stays as it was.
    if (present(b, "max_budget")) user->max_budget = opt_number(b, "max_budget");
    if (present(b, "spend")) user->spend = opt_number(b, "spend").value_or(0);
    if (present(b, "user_email") && present(b, "user_id")) {
      user->user_email = opt_string(b, "user_email");
    }
    if (present(b, "models")) user->models = string_list(b, "models");
    if (present(b, "metadata")) user->metadata = opt_object(b, "metadata");
    if (auto role = opt_string(b, "user_role")) user->user_role = *role;
    record("updated", "user", user->user_id, to_json(*user));
    return {{"user_id", user->user_id}, {"data", to_json(*user)}};
  }

  json user_delete(const json& b, const Query&) {
    if (!present(b, "user_ids")) throw bad_request("user_ids is required", "user_ids");
    json deleted = json::array();
    for (const auto& id : string_list(b, "user_ids")) {
      LlmUser* user = s_.user(id);
      if (user == nullptr) continue;
      // LiteLLM deletes a user's keys and team memberships with the user.
      std::vector<std::string> tokens;
      for (const auto* k : s_.keys()) {
        if (k->user_id == id) tokens.push_back(k->token);
      }
      for (const auto& token : tokens) {
        record("deleted", "key", token, key_state(*s_.key(token)));
        s_.erase_key(token);
      }
      for (const auto& team_id : user->teams) {
        if (LlmTeam* team = s_.team(team_id)) remove_member(*team, id);
      }
      s_.erase_user(id);
      record("deleted", "user", id, {{"user_id", id}});
      deleted.push_back(id);
    }
    return {{"deleted_users", deleted}};
  }

  json team_new(const json& b, const Query&) {
    LlmTeam team;
    team.team_id = opt_string(b, "team_id").value_or("");
    if (team.team_id.empty()) team.team_id = s_.new_uuid();
    if (s_.team(team.team_id) != nullptr) {
      throw bad_request(
          fmt::format("Team id = {} already exists. Please use a different team id.", team.team_id),
          "team_id");
    }
    team.team_alias = opt_string(b, "team_alias");
    team.max_budget = opt_number(b, "max_budget");
    team.spend = opt_number(b, "spend").value_or(0);
    team.models = string_list(b, "models");
    team.metadata = opt_object(b, "metadata");
    team.blocked = opt_bool(b, "blocked").value_or(false);
    team.created_ms = ctx_.now_ms;
    const auto members = parse_members(b, "members_with_roles", false);
    LlmTeam& stored = s_.put_team(std::move(team));
    record("created", "team", stored.team_id, to_json(stored));
    for (const auto& m : members) add_member(stored, m.user_id, m.user_email, m.role, {});
    return to_json(stored);
  }

  json team_update(const json& b, const Query&) {
    LlmTeam& team = existing_team(required_string(b, "team_id"));
    if (present(b, "team_alias")) team.team_alias = opt_string(b, "team_alias");
    if (present(b, "max_budget")) team.max_budget = opt_number(b, "max_budget");
    if (present(b, "spend")) team.spend = opt_number(b, "spend").value_or(0);
    if (present(b, "models")) team.models = string_list(b, "models");
    if (present(b, "metadata")) team.metadata = opt_object(b, "metadata");
    if (auto blocked = opt_bool(b, "blocked")) team.blocked = *blocked;
    record("updated", "team", team.team_id, to_json(team));
    return {{"team_id", team.team_id}, {"data", to_json(team)}};
  }

  json team_info(const json&, const Query& q) {
    LlmTeam& team = existing_team(required_query(q, "team_id"));
    json keys = json::array();
    for (const auto* k : s_.keys()) {
      if (k->team_id == team.team_id) keys.push_back(to_json(*k));
    }
    json memberships = json::array();
    for (const auto& m : team.memberships) memberships.push_back(to_json(m, team.team_id));
    return {{"team_id", team.team_id},
            {"team_info", to_json(team)},
            {"keys", keys},
            {"team_memberships", memberships}};
  }

  json team_member_add(const json& b, const Query&) {
    LlmTeam& team = existing_team(required_string(b, "team_id"));
    if (!present(b, "member")) throw bad_request("member is required", "member");
    const bool many = b["member"].is_array();
    std::vector<LlmTeamMember> members = parse_members(b, "member", true);
    const std::optional<double> budget = opt_number(b, "max_budget_in_team");
    std::vector<LlmTeamMember> fresh;
    for (auto& m : members) {
      if (m.user_id.empty() && m.user_email) {
        if (LlmUser* u = s_.user_by_email(*m.user_email)) m.user_id = u->user_id;
      }
      if (!m.user_id.empty() && team.member(m.user_id) != nullptr) {
        if (!many) {
          throw LlmError{http::status::bad_request, "team_member_already_in_team",
                         fmt::format("User with user_id={} already in team. Existing members={}",
                                     m.user_id, members_text(team)),
                         "user_id"};
        }
        continue;
      }
      fresh.push_back(m);
    }
    if (fresh.empty()) {
      throw LlmError{
          http::status::bad_request, "team_member_already_in_team",
          fmt::format("All users are already in team. Existing members={}", members_text(team)),
          "member"};
    }
    json users = json::array();
    json memberships = json::array();
    for (auto& m : fresh) {
      if (m.user_id.empty()) m.user_id = s_.new_uuid();
      add_member(team, m.user_id, m.user_email, m.role, budget);
      users.push_back(to_json(*s_.user(m.user_id)));
      memberships.push_back(to_json(*team.membership(m.user_id), team.team_id));
    }
    json out = to_json(team);
    out["updated_users"] = users;
    out["updated_team_memberships"] = memberships;
    return out;
  }

  json team_member_update(const json& b, const Query&) {
    LlmTeam& team = existing_team(required_string(b, "team_id"));
    const std::string user_id = member_id(b, team);
    LlmTeamMembership* membership = team.membership(user_id);
    if (present(b, "max_budget_in_team")) {
      membership->max_budget_in_team = opt_number(b, "max_budget_in_team");
    }
    if (auto role = opt_string(b, "role")) {
      if (*role != "admin" && *role != "user")
        throw bad_request("role must be admin or user", "role");
      for (auto& m : team.members_with_roles) {
        if (m.user_id == user_id) m.role = *role;
      }
    }
    record("updated", "team_membership", team.team_id + ":" + user_id,
           to_json(*membership, team.team_id));
    return {
        {"team_id", team.team_id},
        {"user_id", user_id},
        {"max_budget_in_team",
         membership->max_budget_in_team ? json(*membership->max_budget_in_team) : json(nullptr)}};
  }

  json team_member_delete(const json& b, const Query&) {
    LlmTeam& team = existing_team(required_string(b, "team_id"));
    const std::string user_id = member_id(b, team);
    remove_member(team, user_id);
    if (LlmUser* user = s_.user(user_id)) {
      user->teams.erase(std::remove(user->teams.begin(), user->teams.end(), team.team_id),
                        user->teams.end());
    }
    return to_json(team);
  }

  json team_delete(const json& b, const Query&) {
    if (!present(b, "team_ids")) throw bad_request("team_ids is required", "team_ids");
    const auto ids = string_list(b, "team_ids");
    for (const auto& id : ids) existing_team(id);  // all or nothing, as LiteLLM checks first
    for (const auto& id : ids) {
      std::vector<std::string> tokens;
      for (const auto* k : s_.keys()) {
        if (k->team_id == id) tokens.push_back(k->token);
      }
      for (const auto& token : tokens) {
        record("deleted", "key", token, key_state(*s_.key(token)));
        s_.erase_key(token);
      }
      for (const auto& m : s_.team(id)->members_with_roles) {
        if (LlmUser* user = s_.user(m.user_id)) {
          user->teams.erase(std::remove(user->teams.begin(), user->teams.end(), id),
                            user->teams.end());
        }
      }
      s_.erase_team(id);
      record("deleted", "team", id, {{"team_id", id}});
    }
    return {{"deleted_teams", ids}};
  }

  json key_list(const json&, const Query& q) {
    const auto user_id = query_param(q, "user_id");
    const auto team_id = query_param(q, "team_id");
    const auto alias = query_param(q, "key_alias");
    const bool full = query_param(q, "return_full_object").value_or("false") == "true";
    const std::int64_t page = positive(query_param(q, "page").value_or("1"), "page");
    const std::int64_t size = positive(query_param(q, "size").value_or("10"), "size");
    if (size > 100) throw bad_request("size must be at most 100", "size");
    std::vector<const LlmVirtualKey*> matched;
    for (const auto* k : s_.keys()) {
      if (user_id && k->user_id != *user_id) continue;
      if (team_id && k->team_id != *team_id) continue;
      if (alias && k->key_alias != *alias) continue;
      matched.push_back(k);
    }
    json keys = json::array();
    const std::size_t begin = static_cast<std::size_t>((page - 1) * size);
    for (std::size_t i = begin; i < matched.size() && i < begin + size; ++i) {
      keys.push_back(full ? to_json(*matched[i]) : json(matched[i]->token));
    }
    const std::int64_t total = static_cast<std::int64_t>(matched.size());
    return {{"keys", keys},
            {"total_count", total},
            {"current_page", page},
            {"total_pages", (total + size - 1) / size}};
  }

  json key_generate(const json& b, const Query&) {
    LlmVirtualKey key;
    if (auto custom = opt_string(b, "key")) {
      if (custom->rfind("sk-", 0) != 0)
        throw bad_request("Invalid key format. Key must start with 'sk-'", "key");
      if (s_.key(*custom) != nullptr) throw bad_request("Key already exists", "key");
      key.key = *custom;
    } else {
      key.key = s_.new_key();
    }
    key.user_id = opt_string(b, "user_id");
    key.team_id = opt_string(b, "team_id");
    if (key.team_id && s_.team(*key.team_id) == nullptr) {
      throw bad_request(fmt::format("Team id = {} does not exist", *key.team_id), "team_id");
    }
    key.key_alias = opt_string(b, "key_alias");
    key.max_budget = opt_number(b, "max_budget");
    key.spend = opt_number(b, "spend").value_or(0);
    key.models = string_list(b, "models");
    key.metadata = opt_object(b, "metadata");
    key.blocked = opt_bool(b, "blocked").value_or(false);
    key.created_ms = ctx_.now_ms;
    if (key.user_id && s_.user(*key.user_id) == nullptr) {
      // LiteLLM creates the user row a key names, if missing.
      LlmUser user;
      user.user_id = *key.user_id;
      user.created_ms = ctx_.now_ms;
      record("created", "user", user.user_id, to_json(s_.put_user(std::move(user))));
    }
    const LlmVirtualKey& stored = s_.put_key(std::move(key));
    record("created", "key", stored.token, key_state(stored));
    json out = to_json(stored);
    out["key"] = stored.key;
    out["token_id"] = stored.token;
    return out;
  }

  json key_update(const json& b, const Query&) {
    const std::string given = required_string(b, "key");
    LlmVirtualKey& key = existing_key(given);
    if (present(b, "team_id")) {
      auto team = opt_string(b, "team_id");
      if (team && s_.team(*team) == nullptr) {
        throw bad_request(fmt::format("Team id = {} does not exist", *team), "team_id");
      }
      key.team_id = team;
    }
    if (present(b, "user_id")) key.user_id = opt_string(b, "user_id");
    if (present(b, "key_alias")) key.key_alias = opt_string(b, "key_alias");
    if (present(b, "max_budget")) key.max_budget = opt_number(b, "max_budget");
    if (present(b, "spend")) key.spend = opt_number(b, "spend").value_or(0);
    if (present(b, "models")) key.models = string_list(b, "models");
    if (present(b, "metadata")) key.metadata = opt_object(b, "metadata");
    if (auto blocked = opt_bool(b, "blocked")) key.blocked = *blocked;
    record("updated", "key", key.token, key_state(key));
    json out = to_json(key);
    out["key"] = given;
    return out;
  }

  json key_info(const json&, const Query& q) {
    const std::string given = required_query(q, "key");
    return {{"key", given}, {"info", to_json(existing_key(given))}};
  }

  json key_delete(const json& b, const Query&) {
    std::vector<std::string> tokens;
    if (present(b, "keys")) {
      for (const auto& given : string_list(b, "keys")) tokens.push_back(existing_key(given).token);
    } else if (present(b, "key_aliases")) {
      for (const auto& alias : string_list(b, "key_aliases")) {
        bool found = false;
        for (const auto* k : s_.keys()) {
          if (k->key_alias == alias) {
            tokens.push_back(k->token);
            found = true;
          }
        }
        if (!found) throw not_found(fmt::format("Key alias {} not found", alias), "key_aliases");
      }
    } else {
      throw bad_request("keys or key_aliases is required", "keys");
    }
    json deleted = json::array();
    for (const auto& token : tokens) {
      record("deleted", "key", token, key_state(*s_.key(token)));
      s_.erase_key(token);
      deleted.push_back(token);
    }
    return {{"deleted_keys", deleted}};
  }

  json key_block(const json& b, const Query&, bool blocked) {
    LlmVirtualKey& key = existing_key(required_string(b, "key"));
    key.blocked = blocked;
    record("updated", "key", key.token, key_state(key));
    return to_json(key);
  }

 private:
  void record(const char* kind, const char* type, const std::string& id, json state) {
    ctx_.applied = true;
    ctx_.record(kind, type, id, std::move(state));
  }

  static std::int64_t positive(const std::string& text, const char* name) {
    try {
      std::size_t used = 0;
      const long long value = std::stoll(text, &used);
      if (used == text.size() && value >= 1) return value;
    } catch (const std::exception&) {
    }
    throw bad_request(fmt::format("{} must be a positive integer", name), name);
  }

  LlmTeam& existing_team(const std::string& id) {
    LlmTeam* team = s_.team(id);
    if (team == nullptr)
      throw not_found(fmt::format("Team not found, passed team_id={}", id), "team_id");
    return *team;
  }

  LlmVirtualKey& existing_key(const std::string& given) {
    LlmVirtualKey* key = s_.key(given);
    if (key == nullptr) throw not_found("Key not found", "key");
    return *key;
  }

  std::string member_id(const json& b, const LlmTeam& team) {
    std::string user_id = opt_string(b, "user_id").value_or("");
    if (user_id.empty()) {
      const auto email = opt_string(b, "user_email");
      if (!email) throw bad_request("user_id or user_email is required", "user_id");
      for (const auto& m : team.members_with_roles) {
        if (m.user_email == email) user_id = m.user_id;
      }
    }
    if (user_id.empty() || team.member(user_id) == nullptr) {
      throw bad_request(fmt::format("User={} is not a member of team={}", user_id, team.team_id),
                        "user_id");
    }
    return user_id;
  }

  std::vector<LlmTeamMember> parse_members(const json& b, const char* name, bool required) {
    std::vector<LlmTeamMember> out;
    const auto it = b.find(name);
    if (it == b.end() || it->is_null()) {
      if (required) throw bad_request(fmt::format("{} is required", name), name);
      return out;
    }
    const json list = it->is_array() ? *it : json::array({*it});
    for (const auto& item : list) {
      if (!item.is_object()) throw bad_request(fmt::format("{} must hold objects", name), name);
      LlmTeamMember m;
      m.user_id = opt_string(item, "user_id").value_or("");
      m.user_email = opt_string(item, "user_email");
      m.role = opt_string(item, "role").value_or("user");
      if (m.role != "admin" && m.role != "user") {
        throw bad_request("role must be admin or user", name);
      }
      if (m.user_id.empty() && !m.user_email) {
        throw bad_request("Either user_id or user_email must be provided", name);
      }
      out.push_back(std::move(m));
    }
    return out;
  }

  std::string members_text(const LlmTeam& team) const {
    std::string out = "[";
    for (const auto& m : team.members_with_roles) {
      if (out.size() > 1) out += ", ";
      out += fmt::format("Member(user_id='{}', role='{}')", m.user_id, m.role);
    }
    return out + "]";
  }

  void add_member(LlmTeam& team, const std::string& user_id,
                  const std::optional<std::string>& email, const std::string& role,
                  std::optional<double> budget) {
    LlmUser* user = s_.user(user_id);
    if (user == nullptr) {
      // LiteLLM creates a user it is asked to add to a team.
      LlmUser fresh;
      fresh.user_id = user_id;
      fresh.user_email = email;
      fresh.created_ms = ctx_.now_ms;
      user = &s_.put_user(std::move(fresh));
      record("created", "user", user_id, to_json(*user));
    }
    if (std::find(user->teams.begin(), user->teams.end(), team.team_id) == user->teams.end()) {
      user->teams.push_back(team.team_id);
    }
    team.members_with_roles.push_back(
        LlmTeamMember{user_id, email ? email : user->user_email, role});
    team.memberships.push_back(LlmTeamMembership{user_id, 0, budget});
    record("created", "team_membership", team.team_id + ":" + user_id,
           to_json(team.memberships.back(), team.team_id));
  }

  void remove_member(LlmTeam& team, const std::string& user_id) {
    auto& members = team.members_with_roles;
    members.erase(std::remove_if(members.begin(), members.end(),
                                 [&](const LlmTeamMember& m) { return m.user_id == user_id; }),
                  members.end());
    auto& memberships = team.memberships;
    memberships.erase(
        std::remove_if(memberships.begin(), memberships.end(),
                       [&](const LlmTeamMembership& m) { return m.user_id == user_id; }),
        memberships.end());
    record("deleted", "team_membership", team.team_id + ":" + user_id,
           {{"team_id", team.team_id}, {"user_id", user_id}});
  }

  LitellmState& s_;
  RequestContext& ctx_;
};

using Handler = json (*)(LitellmEndpoints&, const json&, const Query&);

struct RouteEntry {
  http::verb method;
  std::string_view path;
  Handler handler;
};

#define ORGQUAKE_LLM_ROUTE(verb, path, method)                                                    \
  RouteEntry {                                                                                    \
    verb, path, [](LitellmEndpoints& e, const json& b, const Query& q) { return e.method(b, q); } \
  }

const RouteEntry kRoutes[] = {
    ORGQUAKE_LLM_ROUTE(http::verb::get, "/user/info", user_info),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/user/new", user_new),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/user/update", user_update),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/user/delete", user_delete),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/team/new", team_new),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/team/update", team_update),
    ORGQUAKE_LLM_ROUTE(http::verb::get, "/team/info", team_info),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/team/member_add", team_member_add),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/team/member_update", team_member_update),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/team/member_delete", team_member_delete),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/team/delete", team_delete),
    ORGQUAKE_LLM_ROUTE(http::verb::get, "/key/list", key_list),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/key/generate", key_generate),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/key/update", key_update),
    ORGQUAKE_LLM_ROUTE(http::verb::get, "/key/info", key_info),
    ORGQUAKE_LLM_ROUTE(http::verb::post, "/key/delete", key_delete),
    RouteEntry{
        http::verb::post, "/key/block",
        [](LitellmEndpoints& e, const json& b, const Query& q) { return e.key_block(b, q, true); }},
    RouteEntry{http::verb::post, "/key/unblock",
               [](LitellmEndpoints& e, const json& b, const Query& q) {
                 return e.key_block(b, q, false);
               }},
};

#undef ORGQUAKE_LLM_ROUTE

bool is_models_route(std::string_view path) {
  return path == "/v1/models" || path == "/models";
}

const RouteEntry* find_route(http::verb method, std::string_view path) {
  for (const RouteEntry& r : kRoutes) {
    if (r.method == method && r.path == path) return &r;
  }
  return nullptr;
}

/// The key a request presents, from any header LiteLLM reads one from.
std::optional<std::string> litellm_presented_key(const Request& request) {
  for (const char* header :
       {"Authorization", "x-litellm-api-key", "x-api-key", "api-key", "x-goog-api-key"}) {
    const auto it = request.find(header);
    if (it == request.end()) continue;
    std::string_view value = it->value();
    if (value.substr(0, 7) == "Bearer " || value.substr(0, 7) == "bearer ") value.remove_prefix(7);
    return std::string(value);
  }
  return std::nullopt;
}

}  // namespace

LitellmApp::LitellmApp(LitellmOptions options, std::uint64_t seed)
    : options_(std::move(options)), state_(Rng(seed).derive("fakes.litellm.ids")) {}

Response LitellmApp::error(http::status status, const std::string& message) {
  const int code = static_cast<int>(status);
  return render(
      LlmError{status, code >= 500 ? "internal_server_error" : "bad_request_error", message, ""});
}

std::optional<Response> LitellmApp::admit(const Request& request, RequestContext&) {
  const std::string_view path = path_of(request.target());
  const bool models = is_models_route(path) && request.method() == http::verb::get;
  if (!models && find_route(request.method(), path) == nullptr) {
    return render(not_found(fmt::format("Route not found: {} {}",
                                        std::string(request.method_string()), std::string(path))));
  }
  const auto key = litellm_presented_key(request);
  if (!key || key->empty()) return render(auth_error("No api key passed in."));
  if (*key == options_.master_key) return std::nullopt;
  const LlmVirtualKey* virtual_key = state_.key(*key);
  if (virtual_key == nullptr) {
    return render(auth_error("Invalid proxy server token passed. valid_token=None."));
  }
  if (virtual_key->blocked) {
    return render(auth_error("Key is blocked. Update via `/key/unblock` if you're admin."));
  }
  if (!models) {
    return render(auth_error(fmt::format(
        "Only proxy admin can be used to generate, delete, update info for new keys/users/teams. "
        "Route={}",
        std::string(path))));
  }
  return std::nullopt;
}

Response LitellmApp::apply(const Request& request, RequestContext& ctx) {
  const std::string_view target = request.target();
  const std::string_view path = path_of(target);
  try {
    if (is_models_route(path)) {
      std::vector<std::string> models = options_.models;
      if (const auto key = litellm_presented_key(request); key && *key != options_.master_key) {
        const LlmVirtualKey* k = state_.key(*key);
        if (k != nullptr && !k->models.empty()) models = k->models;
      }
      json data = json::array();
      for (const auto& m : models) {
        data.push_back(
            {{"id", m}, {"object", "model"}, {"created", 1677610602}, {"owned_by", "openai"}});
      }
      return json_response(http::status::ok, {{"data", data}, {"object", "list"}});
    }
    const RouteEntry* entry = find_route(request.method(), path);
    const std::size_t q = target.find('?');
    const Query query = q == std::string_view::npos ? Query{} : parse_form(target.substr(q + 1));
    json body = json::object();
    if (request.method() == http::verb::post) {
      try {
        body = json::parse(request.body());
      } catch (const json::parse_error& e) {
        throw bad_request(fmt::format("Invalid JSON body: {}", e.what()), "body");
      }
      if (!body.is_object()) throw bad_request("The JSON body must be an object", "body");
    }
    LitellmEndpoints endpoints(state_, ctx);
    return json_response(http::status::ok, entry->handler(endpoints, body, query));
  } catch (const LlmError& e) {
    return render(e);
  } catch (const FormError& e) {
    return render(bad_request(e.what(), e.param()));
  } catch (const json::exception& e) {
    return render(bad_request(fmt::format("Invalid request body: {}", e.what()), "body"));
  }
}

}  // namespace orgquake::fakes
