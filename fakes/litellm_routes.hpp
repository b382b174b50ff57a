#pragma once

#include <string>
#include <vector>

#include "fakes/fake_server.hpp"
#include "fakes/litellm_state.hpp"

namespace orgquake::fakes {

struct LitellmOptions {
  /// The proxy's master key, accepted on the management API.
  std::string master_key = "sk-orgquake-master";
  /// The models /v1/models lists for a key that is not restricted.
  std::vector<std::string> models = {"gpt-4o", "claude-sonnet-4"};
};

/// The LiteLLM proxy management API a user-to-org migration uses (users,
/// teams, members with budgets, virtual keys) plus /v1/models for checking
/// a key. Errors follow LiteLLM's ProxyException shape:
///   {"error": {"message", "type", "param", "code": "400"}}
class LitellmApp final : public Application {
 public:
  LitellmApp(LitellmOptions options, std::uint64_t seed);

  Response error(http::status status, const std::string& message) override;
  std::optional<Response> admit(const Request& request, RequestContext& ctx) override;
  Response apply(const Request& request, RequestContext& ctx) override;
  void abandon(const Request&, RequestContext&) override {}

  LitellmState& state() { return state_; }
  const LitellmOptions& options() const { return options_; }

 private:
  LitellmOptions options_;
  LitellmState state_;
};

}  // namespace orgquake::fakes
