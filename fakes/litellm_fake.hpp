#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fakes/fake_server.hpp"
#include "fakes/litellm_routes.hpp"

namespace orgquake::fakes {

/// The fake LiteLLM proxy: embed it, point a client at url() with
/// master_key(), and read what happened from ledger() and the accessors.
/// The C++ API is thread-safe: every call runs on the server's loop thread.
class LitellmFake {
 public:
  LitellmFake(ServerOptions server = {}, LitellmOptions options = {}, std::uint64_t seed = 0,
              std::shared_ptr<const Clock> clock = std::make_shared<SystemClock>());

  void start() { server_.start(); }
  void stop() { server_.stop(); }
  std::uint16_t port() const { return server_.port(); }
  std::string url() const { return server_.url(); }
  const std::string& master_key() const { return app_.options().master_key; }

  std::uint64_t add_fault(FaultSpec spec) { return server_.add_fault(std::move(spec)); }
  bool remove_fault(std::uint64_t id) { return server_.remove_fault(id); }
  void clear_faults() { server_.clear_faults(); }
  std::vector<InstalledFault> faults() { return server_.faults(); }
  Ledger ledger() { return server_.ledger(); }

  /// Loads state as it exists before the run (recorded with request_seq 0).
  void load_user(LlmUser user);
  void load_team(LlmTeam team);
  /// `key.token` is derived from `key.key` when empty.
  void load_key(LlmVirtualKey key);

  std::optional<LlmUser> user(const std::string& user_id);
  std::optional<LlmTeam> team(const std::string& team_id);
  /// By text or token.
  std::optional<LlmVirtualKey> key(const std::string& key_or_token);
  std::vector<LlmUser> users();
  std::vector<LlmTeam> teams();
  std::vector<LlmVirtualKey> keys();

  template <class F>
  auto with_state(F&& f) {
    return server_.call([&] { return f(app_.state()); });
  }

 private:
  void record_load(const char* type, const std::string& id, nlohmann::json state);

  LitellmApp app_;
  FakeServer server_;
};

}  // namespace orgquake::fakes
