#include "fakes/stripe_fake.hpp"

namespace orgquake::fakes {

StripeFake::StripeFake(ServerOptions server, StripeOptions options, std::uint64_t seed,
                       std::shared_ptr<const Clock> clock)
    : app_(std::move(options), seed), server_(std::move(server), seed, std::move(clock), app_) {}

void StripeFake::set_search_lag_ms(std::int64_t lag) {
  server_.call([&] { app_.set_search_lag_ms(lag); });
}

void StripeFake::load_customer(StripeCustomer customer) {
  server_.call([&] {
    const std::int64_t now = server_.clock().now_ms();
    if (customer.created == 0) customer.created = now / 1000;
    // Loaded before the run, so the search index has long caught up with it.
    const StripeCustomer& stored = app_.state().put_customer(std::move(customer), 0);
    server_.ledger_on_loop().record_object(
        ObjectEvent{0, 0, "created", "customer", stored.id, to_json(stored), now});
  });
}

void StripeFake::load_subscription(StripeSubscription subscription) {
  server_.call([&] {
    const std::int64_t now = server_.clock().now_ms();
    if (subscription.created == 0) subscription.created = now / 1000;
    for (auto& item : subscription.items) {
      if (item.id.empty()) item.id = app_.state().new_id("si");
    }
    const StripeSubscription& stored = app_.state().put_subscription(std::move(subscription));
    server_.ledger_on_loop().record_object(
        ObjectEvent{0, 0, "created", "subscription", stored.id, to_json(stored), now});
  });
}

std::optional<StripeCustomer> StripeFake::customer(const std::string& id) {
  return server_.call([&]() -> std::optional<StripeCustomer> {
    const StripeCustomer* c = app_.state().customer(id);
    return c ? std::optional<StripeCustomer>(*c) : std::nullopt;
  });
}

std::vector<StripeCustomer> StripeFake::customers() {
  return server_.call([&] {
    std::vector<StripeCustomer> out;
    for (const auto* c : app_.state().customers()) out.push_back(*c);
    return out;
  });
}

std::vector<StripeSubscription> StripeFake::subscriptions() {
  return server_.call([&] {
    std::vector<StripeSubscription> out;
    for (const auto* s : app_.state().subscriptions()) out.push_back(*s);
    return out;
  });
}

std::vector<StripeInvoice> StripeFake::invoices() {
  return server_.call([&] {
    std::vector<StripeInvoice> out;
    for (const auto* i : app_.state().invoices()) out.push_back(*i);
    return out;
  });
}

}  // namespace orgquake::fakes
