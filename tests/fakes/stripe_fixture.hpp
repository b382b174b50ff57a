#pragma once

#include <map>
#include <memory>
#include <string>

#include "fakes/stripe_fake.hpp"
#include "tests/fakes/http_test_client.hpp"

namespace orgquake::fakes::test {

/// A running fake Stripe on an ephemeral port with a manual clock, and a client.
struct StripeFixture {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  StripeFake stripe{ServerOptions{}, StripeOptions{}, 42, clock};
  std::map<std::string, std::string> auth{{"Authorization", "Bearer sk_test_orgquake"}};

  StripeFixture() { stripe.start(); }

  TestClient client() { return TestClient(stripe.port()); }

  std::map<std::string, std::string> with_key(const std::string& idempotency_key) const {
    auto headers = auth;
    headers["Idempotency-Key"] = idempotency_key;
    return headers;
  }
};

}  // namespace orgquake::fakes::test
