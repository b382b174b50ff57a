// The migration guide's database backfill and its rollback, "restore a
// backup" (the one it calls hard). The database is backed up; the
// application switches to the org path (the flag at 100 %) and serves
// requests while a batch backfill of two racing workers migrates every
// user; then the rollback: requests stop, the database is restored from
// the backup, and requests resume, served by the legacy path (the backup's
// flag says 0 %).
//
// A restore puts PostgreSQL back and nothing else: LiteLLM still has the
// orgs' teams, the users' lifted budgets and their keys in those teams;
// Stripe still has customers and subscriptions naming orgs, and customers
// made for them. A migrator that can compensate (declares the `compensate`
// operation) is then asked to undo that external half, user by user, before
// requests resume; one that cannot leaves it, and the invariants
// (cross_system_reconciliation first) report what is left as invalid. The
// restore event in the history and the report says which it was.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "history/operations.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct BackfillRestoreSettings {
  int backfill_users, clients, requests;
  bool compensate;
};

class BackfillRestore : public engine::ScenarioOf<BackfillRestoreSettings> {
 public:
  std::string_view name() const override { return "backfill_restore"; }
  std::string_view description() const override {
    return "a backfill under live requests is rolled back by restoring a backup; what Stripe and "
           "LiteLLM keep is compensated or reported";
  }
  BackfillRestoreSettings read(engine::OptionReader& o) const override {
    return {o.count("backfill_users", 16, 1, 100000, "users the backfill migrates"),
            o.count("clients", 8, 1, 1000, "clients serving requests beside the backfill"),
            o.count("requests", 8, 1, 100000, "requests each client serves before and after"),
            o.flag("compensate", true,
                   "ask the migrator to undo the external half after the restore, when it can")};
  }

  void run(engine::Trial& trial, const BackfillRestoreSettings& s) const override {
    const auto users = trial.choose_users(s.backfill_users, "backfill");
    const bool can = trial.migrator().supports(history::op_compensate);
    const bool compensating = s.compensate && can;
    const std::string compensation = compensating ? "by the migrator (compensate)"
                                     : can        ? "none: the scenario's compensate option is off"
                                           : "none: the migrator declares no compensate operation";
    trial.note_choice(
        {{"kind", "backfill_restore"}, {"users", users}, {"compensation", compensation}});

    trial.back_up_database();
    trial.set_rollout_flag(100, {});  // the new code serves everyone from the backfilled data

    // The backfill: two workers, each over every user, in opposite orders.
    std::vector<engine::WorkerOptions> fleet(2);
    for (std::size_t w = 0; w < fleet.size(); ++w) {
      worker::ClientPlan batch;
      for (std::size_t i = 0; i < users.size(); ++i) {
        const auto& user = w == 0 ? users[i] : users[users.size() - 1 - i];
        batch.ops.push_back(trial.operation(history::op_migrate, user));
      }
      fleet[w].clients.push_back(std::move(batch));
    }
    fleet.push_back(requests(trial, users, s, "requests before"));
    wait_for(trial, start_fleet(trial, std::move(fleet)));

    // The rollback: nobody connected, the backup restored.
    trial.restore_database(compensation);
    if (compensating) {
      engine::WorkerOptions undo;
      undo.clients.resize(std::min<std::size_t>(4, users.size()));
      for (std::size_t i = 0; i < users.size(); ++i) {
        undo.clients[i % undo.clients.size()].ops.push_back(
            trial.operation(history::op_compensate, users[i]));
      }
      wait_for(trial, {trial.run_worker(std::move(undo))});
    }
    wait_for(trial, start_fleet(trial, {requests(trial, users, s, "requests after")}));

    int migrated = 0, undone = 0;
    for (const auto& op : history::operations_of(trial.history())) {
      if (!op.ok()) continue;
      const auto& kind = op.first().kind;
      migrated += kind == history::op_migrate && op.completion->value.value("migrated_here", false);
      undone += kind == history::op_compensate && op.completion->value.value("undone", false);
    }
    if (migrated == 0) trial.not_exercised("the backfill migrated nobody before the restore");
    if (compensating && undone == 0) {
      trial.not_exercised("the compensation found nothing to undo after the restore");
    }
  }

 private:
  /// One worker of `clients` clients serving `requests` random users each.
  static engine::WorkerOptions requests(engine::Trial& trial, const std::vector<std::string>& users,
                                        const BackfillRestoreSettings& s, std::string_view label) {
    Rng pick = trial.rng(label);
    engine::WorkerOptions live;
    live.clients.resize(static_cast<std::size_t>(s.clients));
    for (auto& client : live.clients) {
      for (int i = 0; i < s.requests; ++i) {
        client.ops.push_back(trial.operation(history::op_serve, users[pick.below(users.size())]));
      }
    }
    return live;
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(BackfillRestore);

}  // namespace orgquake::scenarios
