// Stripe's search lags its writes by seconds. Duplicate lookups of users
// without a Stripe customer race while search is stale: a migrator that
// dedupes customers by "search before create" makes two; one that creates
// with an Idempotency-Key derived from the org makes one.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/service_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct StripeSearchLagSettings {
  int users, workers, clients;
  std::chrono::milliseconds lag;
};

class StripeSearchLag : public engine::ScenarioOf<StripeSearchLagSettings> {
 public:
  std::string_view name() const override { return "stripe_search_lag"; }
  std::string_view description() const override {
    return "Stripe search lags writes while duplicate lookups race";
  }
  StripeSearchLagSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"), o.common_count("workers"), o.common_count("clients"),
            o.duration("lag_ms", 2000, 0, 600000, "how far Stripe search lags behind writes")};
  }

  void run(engine::Trial& trial, const StripeSearchLagSettings& s) const override {
    auto users = users_with(trial, world::EdgeCase::no_stripe_customer);
    const auto wanted = static_cast<std::size_t>(s.users);
    if (users.size() > wanted) users.resize(wanted);
    for (const auto& user : trial.choose_users(static_cast<int>(wanted), "users")) {
      if (users.size() >= wanted) break;
      if (std::find(users.begin(), users.end(), user) == users.end()) users.push_back(user);
    }
    const auto lag = s.lag;
    trial.note_choice({{"kind", "lookups"}, {"users", users}});
    // In force before the first search, until the heal phase.
    trial.inject(trial.plan(std::make_unique<faults::StripeSearchLag>(lag)));
    const int workers = std::max<int>(2, s.workers / 2);
    const int clients = std::max<int>(1, s.clients / 2);
    wait_for(trial, start_lookup_fleet(trial, workers, clients, users, 1, 0));
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(StripeSearchLag);

}  // namespace orgquake::scenarios
