// The batch backfill of every user runs while live requests look the same
// users up just in time, in a population where some users were migrated
// already (by an earlier, interrupted backfill). Both paths take the same
// per-user lock; neither may migrate a user twice or undo the other.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct BackfillWithLiveLookupsSettings {
  int workers, clients, backfill_users;
  double migrated_share;
};

class BackfillWithLiveLookups : public engine::ScenarioOf<BackfillWithLiveLookupsSettings> {
 public:
  std::string_view name() const override { return "backfill_with_live_lookups"; }
  std::string_view description() const override {
    return "a batch backfill of every user races just-in-time lookups; some users were "
           "migrated already";
  }
  BackfillWithLiveLookupsSettings read(engine::OptionReader& o) const override {
    return {o.common_count("workers"), o.common_count("clients"),
            o.count("backfill_users", 24, 1, 100000, "users the backfill covers"),
            o.number("migrated_share", 0.33, 0.0, 1.0, "share of them migrated before the race")};
  }

  void run(engine::Trial& trial, const BackfillWithLiveLookupsSettings& s) const override {
    const auto users = trial.choose_users(s.backfill_users, "backfill");
    const auto already =
        static_cast<std::size_t>(static_cast<double>(users.size()) * s.migrated_share);
    Rng order = trial.rng("lookup order");
    trial.note_choice(
        {{"kind", "backfill"},
         {"users", users},
         {"migrated_before",
          std::vector<std::string>(users.begin(), users.begin() + static_cast<long>(already))}});

    if (already > 0) {
      // The earlier backfill: plain migrations, before anything races.
      engine::WorkerOptions earlier;
      for (std::size_t i = 0; i < already; ++i) {
        earlier.clients.push_back({{trial.operation(history::op_migrate, users[i])}, 0});
      }
      wait_for(trial, {trial.run_worker(std::move(earlier))});
    }

    std::vector<engine::WorkerOptions> fleet;
    engine::WorkerOptions backfill;
    worker::ClientPlan batch;
    for (const auto& user : users) batch.ops.push_back(trial.operation(history::op_migrate, user));
    backfill.clients.push_back(std::move(batch));
    fleet.push_back(std::move(backfill));

    const int workers = std::max<int>(1, s.workers - 1);
    const int clients = std::max<int>(1, s.clients / 2);
    for (int w = 0; w < workers; ++w) {
      engine::WorkerOptions live;
      for (int c = 0; c < clients; ++c) {
        worker::ClientPlan client;
        for (int i = 0; i < 4; ++i) {
          client.ops.push_back(
              trial.operation(history::op_lookup, users[order.below(users.size())]));
        }
        live.clients.push_back(std::move(client));
      }
      fleet.push_back(std::move(live));
    }
    const auto racers = trial.start_workers(std::move(fleet));
    trial.go(racers);
    wait_for(trial, racers);
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(BackfillWithLiveLookups);

}  // namespace orgquake::scenarios
