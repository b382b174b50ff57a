#include "fakes/litellm_state.hpp"

#include <algorithm>
#include <ctime>

#include <fmt/format.h>

#include "fakes/sha256.hpp"

namespace orgquake::fakes {
namespace {

nlohmann::json optional_json(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}
nlohmann::json optional_json(const std::optional<double>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

const LlmTeamMember* LlmTeam::member(const std::string& user_id) const {
  for (const auto& m : members_with_roles) {
    if (m.user_id == user_id) return &m;
  }
  return nullptr;
}

LlmTeamMembership* LlmTeam::membership(const std::string& user_id) {
  for (auto& m : memberships) {
    if (m.user_id == user_id) return &m;
  }
  return nullptr;
}

std::string LlmVirtualKey::key_name() const {
  return key.size() > 4 ? "sk-..." + key.substr(key.size() - 4) : key;
}

std::string iso_time(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  return fmt::format("{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}.{:03d}Z", tm.tm_year + 1900,
                     tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     static_cast<int>(unix_ms % 1000));
}

nlohmann::json to_json(const LlmUser& u) {
  return {{"user_id", u.user_id},
          {"user_email", optional_json(u.user_email)},
          {"user_alias", nullptr},
          {"max_budget", optional_json(u.max_budget)},
          {"spend", u.spend},
          {"teams", u.teams},
          {"models", u.models},
          {"user_role", u.user_role},
          {"metadata", u.metadata},
          {"budget_duration", nullptr},
          {"budget_reset_at", nullptr},
          {"tpm_limit", nullptr},
          {"rpm_limit", nullptr},
          {"created_at", iso_time(u.created_ms)},
          {"updated_at", iso_time(u.created_ms)}};
}

nlohmann::json to_json(const LlmTeam& t) {
  nlohmann::json members = nlohmann::json::array();
  for (const auto& m : t.members_with_roles) {
    members.push_back(
        {{"user_id", m.user_id}, {"user_email", optional_json(m.user_email)}, {"role", m.role}});
  }
  return {{"team_id", t.team_id},
          {"team_alias", optional_json(t.team_alias)},
          {"organization_id", nullptr},
          {"admins", nlohmann::json::array()},
          {"members", nlohmann::json::array()},
          {"members_with_roles", std::move(members)},
          {"metadata", t.metadata},
          {"max_budget", optional_json(t.max_budget)},
          {"spend", t.spend},
          {"models", t.models},
          {"blocked", t.blocked},
          {"tpm_limit", nullptr},
          {"rpm_limit", nullptr},
          {"budget_duration", nullptr},
          {"budget_reset_at", nullptr},
          {"created_at", iso_time(t.created_ms)},
          {"updated_at", iso_time(t.created_ms)}};
}

nlohmann::json to_json(const LlmTeamMembership& m, const std::string& team_id) {
  nlohmann::json budget = nullptr;
  if (m.max_budget_in_team) {
    budget = {{"max_budget", *m.max_budget_in_team},
              {"soft_budget", nullptr},
              {"tpm_limit", nullptr},
              {"rpm_limit", nullptr},
              {"budget_duration", nullptr}};
  }
  return {{"team_id", team_id},
          {"user_id", m.user_id},
          {"spend", m.spend},
          {"budget_id", m.max_budget_in_team ? nlohmann::json(team_id + ":" + m.user_id)
                                             : nlohmann::json(nullptr)},
          {"litellm_budget_table", std::move(budget)}};
}

nlohmann::json to_json(const LlmVirtualKey& k) {
  return {{"token", k.token},
          {"key_name", k.key_name()},
          {"key_alias", optional_json(k.key_alias)},
          {"user_id", optional_json(k.user_id)},
          {"team_id", optional_json(k.team_id)},
          {"max_budget", optional_json(k.max_budget)},
          {"spend", k.spend},
          {"blocked", k.blocked},
          {"models", k.models},
          {"metadata", k.metadata},
          {"expires", nullptr},
          {"created_at", iso_time(k.created_ms)},
          {"updated_at", iso_time(k.created_ms)}};
}

std::string LitellmState::new_uuid() {
  const std::uint64_t hi = rng_.next();
  const std::uint64_t lo = rng_.next();
  // Version 4, variant 1, as uuid.uuid4() produces.
  const std::uint64_t h = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;
  const std::uint64_t l = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", h >> 32, (h >> 16) & 0xffff, h & 0xffff,
                     l >> 48, l & 0xffffffffffffULL);
}

std::string LitellmState::new_key() {
  static constexpr char alphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (;;) {
    std::string key = "sk-";
    for (int i = 0; i < 22; ++i) key.push_back(alphabet[rng_.below(64)]);
    if (keys_.count(sha256_hex(key)) == 0) return key;
  }
}

LlmUser* LitellmState::user(const std::string& id) {
  const auto it = users_.find(id);
  return it == users_.end() ? nullptr : &it->second;
}

LlmUser* LitellmState::user_by_email(const std::string& email) {
  for (auto& [id, u] : users_) {
    if (u.user_email == email) return &u;
  }
  return nullptr;
}

LlmUser& LitellmState::put_user(LlmUser user) {
  const std::string id = user.user_id;
  return users_.insert_or_assign(id, std::move(user)).first->second;
}

bool LitellmState::erase_user(const std::string& id) {
  return users_.erase(id) != 0;
}

std::vector<const LlmUser*> LitellmState::users() const {
  std::vector<const LlmUser*> out;
  for (const auto& [id, u] : users_) out.push_back(&u);
  return out;
}

LlmTeam* LitellmState::team(const std::string& id) {
  const auto it = teams_.find(id);
  return it == teams_.end() ? nullptr : &it->second;
}

LlmTeam& LitellmState::put_team(LlmTeam team) {
  const std::string id = team.team_id;
  return teams_.insert_or_assign(id, std::move(team)).first->second;
}

bool LitellmState::erase_team(const std::string& id) {
  return teams_.erase(id) != 0;
}

std::vector<const LlmTeam*> LitellmState::teams() const {
  std::vector<const LlmTeam*> out;
  for (const auto& [id, t] : teams_) out.push_back(&t);
  return out;
}

LlmVirtualKey* LitellmState::key(const std::string& key_or_token) {
  // LiteLLM hashes anything that looks like a key and takes the rest as a token.
  const std::string token =
      key_or_token.rfind("sk-", 0) == 0 ? sha256_hex(key_or_token) : key_or_token;
  const auto it = keys_.find(token);
  return it == keys_.end() ? nullptr : &it->second;
}

LlmVirtualKey& LitellmState::put_key(LlmVirtualKey key) {
  if (key.token.empty()) key.token = sha256_hex(key.key);
  const std::string token = key.token;
  auto [it, inserted] = keys_.insert_or_assign(token, std::move(key));
  if (inserted) key_order_.push_back(token);
  return it->second;
}

bool LitellmState::erase_key(const std::string& token) {
  if (keys_.erase(token) == 0) return false;
  key_order_.erase(std::remove(key_order_.begin(), key_order_.end(), token), key_order_.end());
  return true;
}

std::vector<const LlmVirtualKey*> LitellmState::keys() const {
  std::vector<const LlmVirtualKey*> out;
  for (const auto& token : key_order_) out.push_back(&keys_.at(token));
  return out;
}

}  // namespace orgquake::fakes
