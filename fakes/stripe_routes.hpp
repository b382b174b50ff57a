#pragma once

#include <cstdint>
#include <string>

#include "fakes/fake_server.hpp"
#include "fakes/form_decoding.hpp"
#include "fakes/idempotency.hpp"
#include "fakes/stripe_state.hpp"

namespace orgquake::fakes {

struct StripeOptions {
  /// The secret key clients must present (Bearer, or Basic with the key as user).
  std::string secret_key = "sk_test_orgquake";
  /// How far customer search lags behind writes, in ms of the fake's clock.
  std::int64_t search_lag_ms = 0;
  std::int64_t idempotency_ttl_ms = IdempotencyStore::kDefaultTtlMs;
};

/// The Stripe API subset a user-to-org migration touches: customers (CRUD,
/// list, search), subscriptions and invoices, with Stripe's auth, error
/// format, form encoding and idempotency keys. Runs on the loop thread.
class StripeApp final : public Application {
 public:
  StripeApp(StripeOptions options, std::uint64_t seed);

  Response error(http::status status, const std::string& message) override;
  std::optional<Response> admit(const Request& request, RequestContext& ctx) override;
  Response apply(const Request& request, RequestContext& ctx) override;
  void abandon(const Request& request, RequestContext& ctx) override;
  std::string idempotency_header() const override { return "Idempotency-Key"; }

  StripeState& state() { return state_; }
  const StripeOptions& options() const { return options_; }
  void set_search_lag_ms(std::int64_t lag) { options_.search_lag_ms = lag; }

 private:
  StripeOptions options_;
  StripeState state_;
  IdempotencyStore idempotency_;
};

}  // namespace orgquake::fakes
