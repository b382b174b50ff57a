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

struct PostgresBackendKillSettings {
  int users, workers, clients, kills, rounds;
};

class PostgresBackendKill : public engine::ScenarioOf<PostgresBackendKillSettings> {
 public:
  std::string_view name() const override { return "postgres_backend_kill"; }
  std::string_view description() const override {
    return "backends are terminated mid-transaction while lookups migrate";
  }
  PostgresBackendKillSettings read(engine::OptionReader& o) const override {
    return {
        o.common_count("users"), o.common_count("workers"), o.common_count("clients"),
        o.count("kills", 8, 1, 10000, "rounds of terminating the trial database's busy backends"),
        o.count("rounds", 3, 1, 1000, "times each client goes through the users")};
  }

  void run(engine::Trial& trial, const PostgresBackendKillSettings& s) const override {
    const auto users = trial.choose_users(s.users, "users");
    Rng times = trial.rng("kills");
    // Each kill a few ms after the one before, on the fault clock.
    std::chrono::milliseconds at(0);
    for (int i = 0; i < s.kills; ++i) {
      at += std::chrono::milliseconds(5 + times.between(0, 40));
      auto kill = std::make_unique<faults::BackendKill>();
      kill->timing.at = at;
      trial.plan(std::move(kill));
    }
    trial.note_choice({{"kind", "lookups"}, {"users", users}});
    const int workers = std::max<int>(1, s.workers / 2);
    const int clients = std::max<int>(1, s.clients / 2);
    const auto fleet = start_lookup_fleet(trial, workers, clients, users, s.rounds, 1);
    wait_for(trial, fleet);
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(PostgresBackendKill);

}  // namespace orgquake::scenarios
