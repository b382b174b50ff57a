#pragma once

#include <optional>
#include <stdexcept>
#include <string>

#include <nlohmann/json.hpp>

#include "core/random.hpp"
#include "migrator/io/http_client.hpp"

namespace orgquake::migrator {

/// A LiteLLM proxy error: {"error": {"message", "type", "param", "code"}}.
class LiteLlmError : public std::runtime_error {
 public:
  LiteLlmError(int status, const std::string& message);
  int status() const { return status_; }
  /// LiteLLM reports "already exists" and "already in team" as 400s with
  /// these words; migration steps treat them as done.
  bool says(std::string_view words) const;

 private:
  int status_;
};

/// The LiteLLM proxy's management API, with the master key. LiteLLM has no
/// idempotency keys: only requests that are idempotent by nature (reads,
/// updates that set a value) are retried here; creations are made safe by
/// the caller (a known id or key value, so that a repeat says "already exists").
class LiteLlmClient {
 public:
  struct Options {
    std::string master_key = "sk-orgquake-master";
    int max_attempts = 4;
    std::chrono::milliseconds backoff{10};
  };
  LiteLlmClient(io::HttpClient& http, Options options, Rng rng)
      : http_(http), options_(std::move(options)), rng_(rng) {}

  nlohmann::json get(const std::string& target);
  /// `repeatable`: the request may be sent again if its outcome is unknown.
  nlohmann::json post(const std::string& path, const nlohmann::json& body, bool repeatable);

  /// GET /v1/models with a virtual key: true if the key works, false on 401.
  bool key_works(const std::string& virtual_key);

 private:
  nlohmann::json send(io::HttpRequest request, bool repeatable);
  io::HttpClient& http_;
  Options options_;
  Rng rng_;
};

}  // namespace orgquake::migrator
