// PostgreSQL backends are terminated in the middle of transactions, as a
// failover or an administrator's pg_terminate_backend does. The migration's
// single transaction must roll back whole; the next lookup reconnects and
// converges.
//
// Each kill is keyed to a step of a migration, never to a moment: a few
// users are drawn from the seed, each with a failpoint inside the
// migration's transaction, and the kill waits for the first lookups of that
// user (in the clients that reach it soonest) to stop there; their own
// session is then terminated (the one the client names as its own, see
// Trial::terminate_backends) while the worker waits. A shrunk replay that
// leaves other lookups out still kills the same transaction at the same step.
#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "engine/scenario.hpp"
#include "faults/service_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

// Inside the migration's one transaction, in the order the reference reaches them.
const std::vector<std::string>& transaction_points() {
  static const std::vector<std::string> points = {"migrate.after_org_insert",
                                                  "migrate.before_commit"};
  return points;
}

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
    return {o.common_count("users"), o.common_count("workers"), o.common_count("clients"),
            o.count("kills", 8, 1, 10000,
                    "users whose migration transactions are terminated at a step drawn from the "
                    "seed"),
            o.count("rounds", 3, 1, 1000, "times each client goes through the users")};
  }

  void run(engine::Trial& trial, const PostgresBackendKillSettings& s) const override {
    const auto users = trial.choose_users(s.users, "users");
    const auto points = declared(trial, transaction_points());
    if (points.empty()) {
      throw std::runtime_error(fmt::format(
          "migrator {} declares no failpoint inside its migration transaction ({}), where "
          "postgres_backend_kill terminates backends",
          trial.migrator().name, fmt::join(transaction_points(), ", ")));
    }
    trial.note_choice({{"kind", "lookups"}, {"users", users}});
    const int workers = std::max<int>(1, s.workers / 2);
    const int clients = std::max<int>(1, s.clients / 2);
    auto fleet = lookup_fleet(trial, workers, clients, users, s.rounds, 1);
    Rng draw = trial.rng("kills");
    std::vector<std::string> victims = users;
    for (std::size_t i = victims.size(); i > 1; --i) {
      std::swap(victims[i - 1], victims[draw.below(i)]);
    }
    victims.resize(std::min<std::size_t>(victims.size(), static_cast<std::size_t>(s.kills)));
    for (const auto& user : victims) {
      const auto& point = points[draw.below(points.size())];
      // The two lookups likeliest to migrate the user: one may find it
      // migrated by the other, or lose the lock race.
      for (const auto op : first_lookups_of(fleet, user, 2)) {
        auto kill = std::make_unique<faults::BackendKill>();
        kill->timing.at_operation = op;
        kill->timing.at_failpoint = point;
        trial.plan(std::move(kill));
      }
    }
    wait_for(trial, start_fleet(trial, std::move(fleet)));
    if (!any_fault_counted(trial.history(), "backend_kill", "terminated")) {
      trial.not_exercised("no planned kill met its lookup inside a migration transaction");
    }
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(PostgresBackendKill);

}  // namespace orgquake::scenarios
