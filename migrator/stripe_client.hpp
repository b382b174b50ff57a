#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/random.hpp"
#include "migrator/io/http_client.hpp"

namespace orgquake::migrator {

/// A Stripe API error response: {"error": {"type", "code", "message", "param"}}.
class StripeError : public std::runtime_error {
 public:
  StripeError(int status, std::string type, std::string code, const std::string& message);
  int status() const { return status_; }
  const std::string& type() const { return type_; }
  const std::string& code() const { return code_; }

 private:
  int status_;
  std::string type_, code_;
};

/// Form fields in Stripe's bracket notation: {"metadata[org_id]", "..."}.
using StripeForm = std::vector<std::pair<std::string, std::string>>;

/// The part of the Stripe API a migration uses. POSTs carry an
/// Idempotency-Key, and a failed attempt is retried with the same key, as
/// the official clients do: a request whose response was lost is replayed by
/// Stripe, not applied twice.
class StripeClient {
 public:
  struct Options {
    std::string secret_key = "sk_test_orgquake";
    int max_attempts = 4;
    std::chrono::milliseconds backoff{10};  ///< doubled per attempt, jittered
  };
  StripeClient(io::HttpClient& http, Options options, Rng rng)
      : http_(http), options_(std::move(options)), rng_(rng) {}

  nlohmann::json get(const std::string& path);
  /// POST with the given Idempotency-Key (required: every write can be retried).
  nlohmann::json post(const std::string& path, const StripeForm& form,
                      const std::string& idempotency_key);

  nlohmann::json retrieve_customer(const std::string& id) { return get("/v1/customers/" + id); }
  /// DELETE (deleting twice is a 404, which the caller may take as done).
  nlohmann::json remove(const std::string& path);
  nlohmann::json list_subscriptions(const std::string& customer_id);
  /// Search (it lags writes on the real service; never use it to dedupe).
  nlohmann::json search_customers(const std::string& query);

 private:
  nlohmann::json send(io::HttpRequest request);
  io::HttpClient& http_;
  Options options_;
  Rng rng_;
};

/// Encodes a form body.
std::string encode_form(const StripeForm& form);

}  // namespace orgquake::migrator
