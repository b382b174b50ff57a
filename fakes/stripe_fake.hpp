#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fakes/fake_server.hpp"
#include "fakes/stripe_routes.hpp"

namespace orgquake::fakes {

/// The fake Stripe server: embed it in a process, point a Stripe client at
/// url(), and read what happened from ledger() and the object accessors.
///
///   StripeFake stripe({.port = 0}, {}, seed);
///   stripe.start();
///   // client: api_base = stripe.url(), api_key = stripe.secret_key()
///
/// The C++ API is thread-safe: every call runs on the server's loop thread.
class StripeFake {
 public:
  StripeFake(ServerOptions server = {}, StripeOptions options = {}, std::uint64_t seed = 0,
             std::shared_ptr<const Clock> clock = std::make_shared<SystemClock>());

  void start() { server_.start(); }
  void stop() { server_.stop(); }
  std::uint16_t port() const { return server_.port(); }
  std::string url() const { return server_.url(); }
  const std::string& secret_key() const { return app_.options().secret_key; }

  void set_search_lag_ms(std::int64_t lag);

  std::uint64_t add_fault(FaultSpec spec) { return server_.add_fault(std::move(spec)); }
  bool remove_fault(std::uint64_t id) { return server_.remove_fault(id); }
  void clear_faults() { server_.clear_faults(); }
  std::vector<InstalledFault> faults() { return server_.faults(); }
  Ledger ledger() { return server_.ledger(); }

  /// Loads a customer as it would exist before the run (not a request; the
  /// ledger records it with request_seq 0). Its id is kept as given.
  void load_customer(StripeCustomer customer);
  void load_subscription(StripeSubscription subscription);

  std::optional<StripeCustomer> customer(const std::string& id);
  std::vector<StripeCustomer> customers();  ///< live customers, newest first
  std::vector<StripeSubscription> subscriptions();
  std::vector<StripeInvoice> invoices();

  /// Runs `f(StripeState&)` on the loop thread, for queries not covered above.
  template <class F>
  auto with_state(F&& f) {
    return server_.call([&] { return f(app_.state()); });
  }

 private:
  StripeApp app_;
  FakeServer server_;
};

}  // namespace orgquake::fakes
