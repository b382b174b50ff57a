#include "fakes/litellm_fake.hpp"

namespace orgquake::fakes {

LitellmFake::LitellmFake(ServerOptions server, LitellmOptions options, std::uint64_t seed,
                         std::shared_ptr<const Clock> clock)
    : app_(std::move(options), seed), server_(std::move(server), seed, std::move(clock), app_) {}

void LitellmFake::record_load(const char* type, const std::string& id, nlohmann::json state) {
  server_.ledger_on_loop().record_object(
      ObjectEvent{0, 0, "created", type, id, std::move(state), server_.clock().now_ms()});
}

void LitellmFake::load_user(LlmUser user) {
  server_.call([&] {
    if (user.created_ms == 0) user.created_ms = server_.clock().now_ms();
    const LlmUser& stored = app_.state().put_user(std::move(user));
    record_load("user", stored.user_id, to_json(stored));
  });
}

void LitellmFake::load_team(LlmTeam team) {
  server_.call([&] {
    if (team.created_ms == 0) team.created_ms = server_.clock().now_ms();
    const LlmTeam& stored = app_.state().put_team(std::move(team));
    record_load("team", stored.team_id, to_json(stored));
  });
}

void LitellmFake::load_key(LlmVirtualKey key) {
  server_.call([&] {
    if (key.created_ms == 0) key.created_ms = server_.clock().now_ms();
    const LlmVirtualKey& stored = app_.state().put_key(std::move(key));
    nlohmann::json state = to_json(stored);
    state["key"] = stored.key;
    record_load("key", stored.token, std::move(state));
  });
}

std::optional<LlmUser> LitellmFake::user(const std::string& user_id) {
  return server_.call([&]() -> std::optional<LlmUser> {
    const LlmUser* u = app_.state().user(user_id);
    return u ? std::optional<LlmUser>(*u) : std::nullopt;
  });
}

std::optional<LlmTeam> LitellmFake::team(const std::string& team_id) {
  return server_.call([&]() -> std::optional<LlmTeam> {
    const LlmTeam* t = app_.state().team(team_id);
    return t ? std::optional<LlmTeam>(*t) : std::nullopt;
  });
}

std::optional<LlmVirtualKey> LitellmFake::key(const std::string& key_or_token) {
  return server_.call([&]() -> std::optional<LlmVirtualKey> {
    const LlmVirtualKey* k = app_.state().key(key_or_token);
    return k ? std::optional<LlmVirtualKey>(*k) : std::nullopt;
  });
}

std::vector<LlmUser> LitellmFake::users() {
  return server_.call([&] {
    std::vector<LlmUser> out;
    for (const auto* u : app_.state().users()) out.push_back(*u);
    return out;
  });
}

std::vector<LlmTeam> LitellmFake::teams() {
  return server_.call([&] {
    std::vector<LlmTeam> out;
    for (const auto* t : app_.state().teams()) out.push_back(*t);
    return out;
  });
}

std::vector<LlmVirtualKey> LitellmFake::keys() {
  return server_.call([&] {
    std::vector<LlmVirtualKey> out;
    for (const auto* k : app_.state().keys()) out.push_back(*k);
    return out;
  });
}

}  // namespace orgquake::fakes
