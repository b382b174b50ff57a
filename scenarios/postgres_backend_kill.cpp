// PostgreSQL backends are terminated in the middle of transactions, as a
// failover or an administrator's pg_terminate_backend does. The migration's
// single transaction must roll back whole; the next lookup reconnects and
// converges.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/service_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

class PostgresBackendKill : public engine::Scenario {
 public:
  std::string_view name() const override { return "postgres_backend_kill"; }
  std::string_view description() const override {
    return "backends are terminated mid-transaction while lookups migrate";
  }
  std::vector<engine::OptionSpec> options() const override {
    return {{"kills", 8, "rounds of terminating the trial database's busy backends", 1, 10000, {}},
            {"rounds", 3, "times each client goes through the users", 1, 1000, {}}};
  }

  void run(engine::Trial& trial) const override {
    const auto& o = trial.options();
    const auto users = trial.choose_users(static_cast<int>(o.integer("users")), "users");
    Rng times = trial.rng("kills");
    // Each kill a few ms after the one before, on the fault clock.
    std::chrono::milliseconds at(0);
    for (int i = 0; i < o.integer("kills"); ++i) {
      at += std::chrono::milliseconds(5 + times.between(0, 40));
      auto kill = std::make_unique<faults::BackendKill>();
      kill->timing.at = at;
      trial.plan(std::move(kill));
    }
    trial.note_choice({{"kind", "lookups"}, {"users", users}});
    const int workers = std::max<int>(1, static_cast<int>(o.integer("workers")) / 2);
    const int clients = std::max<int>(1, static_cast<int>(o.integer("clients")) / 2);
    const auto fleet = start_lookup_fleet(trial, workers, clients, users,
                                          static_cast<int>(o.integer("rounds")), 1);
    wait_for(trial, fleet);
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(PostgresBackendKill);

}  // namespace orgquake::scenarios
