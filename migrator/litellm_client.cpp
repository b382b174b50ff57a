#include "migrator/litellm_client.hpp"

#include <boost/fiber/operations.hpp>
#include <fmt/format.h>

namespace orgquake::migrator {

LiteLlmError::LiteLlmError(int status, const std::string& message)
    : std::runtime_error(fmt::format("LiteLLM {}: {}", status, message)), status_(status) {}

bool LiteLlmError::says(std::string_view words) const {
  return std::string_view(what()).find(words) != std::string_view::npos;
}

nlohmann::json LiteLlmClient::get(const std::string& target) {
  return send({"GET", target, {}, ""}, true);
}

nlohmann::json LiteLlmClient::post(const std::string& path, const nlohmann::json& body,
                                   bool repeatable) {
  return send({"POST", path, {{"Content-Type", "application/json"}}, body.dump()}, repeatable);
}

bool LiteLlmClient::key_works(const std::string& virtual_key) {
  const io::HttpResponse response =
      http_.send({"GET", "/v1/models", {{"Authorization", "Bearer " + virtual_key}}, ""});
  if (response.status == 200) return true;
  if (response.status == 401) return false;
  throw LiteLlmError(response.status, "GET /v1/models: " + response.body);
}

nlohmann::json LiteLlmClient::send(io::HttpRequest request, bool repeatable) {
  request.headers.emplace_back("Authorization", "Bearer " + options_.master_key);
  auto backoff = options_.backoff;
  const std::string what = request.method + " " + request.target;
  for (int attempt = 1;; ++attempt) {
    try {
      const io::HttpResponse response = http_.send(request);
      if (response.status >= 200 && response.status < 300) {
        return nlohmann::json::parse(response.body);
      }
      std::string message = response.body;
      const auto body = nlohmann::json::parse(response.body, nullptr, false);
      if (body.is_object() && body.contains("error") && body["error"].is_object()) {
        message = body["error"].value("message", response.body);
      } else if (body.is_object() && body.contains("detail")) {
        message = body["detail"].dump();
      }
      const bool retryable = response.status == 429 || response.status >= 500;
      if (!retryable || !repeatable || attempt >= options_.max_attempts) {
        throw LiteLlmError(response.status, what + ": " + message);
      }
    } catch (const io::HttpError& e) {
      // An unknown outcome may only be repeated where repeating is harmless.
      if (!repeatable && e.maybe_applied()) throw;
      if (attempt >= options_.max_attempts) throw;
    } catch (const nlohmann::json::exception& e) {
      throw LiteLlmError(0, what + ": unreadable response: " + e.what());
    }
    boost::this_fiber::sleep_for(backoff +
                                 std::chrono::milliseconds(rng_.below(backoff.count() + 1)));
    backoff *= 2;
  }
}

}  // namespace orgquake::migrator
