// Stripe's search lags its writes by seconds. Duplicate lookups of users
// without a Stripe customer race while search is stale: a migrator that
// dedupes customers by "search before create" makes two; one that creates
// with an Idempotency-Key derived from the org makes one. First, a few of
// those users' migrations are killed just after their Stripe customer was
// created: the retry that follows, within the lag, cannot find it by search.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/service_faults.hpp"
#include "faults/worker_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct StripeSearchLagSettings {
  int users, workers, clients;
  std::chrono::milliseconds lag;
  int crashed_creates;
};

constexpr const char* created_at = "migrate.after_stripe_customer_create";

class StripeSearchLag : public engine::ScenarioOf<StripeSearchLagSettings> {
 public:
  std::string_view name() const override { return "stripe_search_lag"; }
  std::string_view description() const override {
    return "Stripe search lags writes while duplicate lookups race";
  }
  StripeSearchLagSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"), o.common_count("workers"), o.common_count("clients"),
            o.duration("lag_ms", 2000, 0, 600000, "how far Stripe search lags behind writes"),
            o.count("crashed_creates", 2, 0, 100,
                    "users without a customer whose migration is killed right after the "
                    "customer's creation, before the race")};
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
    crash_after_create(trial, users, s.crashed_creates);
    const int workers = std::max<int>(2, s.workers / 2);
    const int clients = std::max<int>(1, s.clients / 2);
    wait_for(trial, start_lookup_fleet(trial, workers, clients, users, 1, 0));
  }

 private:
  /// Kills the first `count` users' migrations (users without a customer
  /// come first) just after Stripe created their customer, one at a time.
  static void crash_after_create(engine::Trial& trial, const std::vector<std::string>& users,
                                 int count) {
    if (count == 0) return;
    trial.require_failpoint(created_at);
    int crashed = 0;
    for (int i = 0; i < count && i < static_cast<int>(users.size()); ++i) {
      const auto& user = users[static_cast<std::size_t>(i)];
      auto& crash = trial.plan(std::make_unique<faults::WorkerCrash>(created_at, user));
      const int before = trial.fired(created_at);
      trial.on_hit(created_at, [&trial, &crash](const engine::HitInfo& hit) {
        return trial.inject(crash, {hit.worker}) ? worker::HitDecision::crash
                                                 : worker::HitDecision::proceed;
      });
      engine::WorkerOptions options;
      options.gated = {created_at};
      options.clients.push_back({{trial.operation(history::op_lookup, user)}, 0});
      const int worker = trial.run_worker(std::move(options));
      wait_for(trial, {worker});
      trial.on_hit(created_at, {});
      crashed += trial.fired(created_at) > before;
      trial.affect(user);
    }
    if (crashed == 0) {
      trial.not_exercised("no migration reached " + std::string(created_at) +
                          " (no chosen user lacked a Stripe customer)");
    }
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(StripeSearchLag);

}  // namespace orgquake::scenarios
