// Many clients in several workers look up the same unmigrated users at the
// same moment: every client of every worker starts on the same user, so the
// first lookup of each user is a race of workers × clients requests for one
// lock. The invariants then prove one org per user, no double billing and
// no duplicated LiteLLM entries; the stats prove the race happened
// (max_concurrent_lookups, lock_waits).
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

class ConcurrentDuplicateLookups : public engine::Scenario {
 public:
  std::string_view name() const override { return "concurrent_duplicate_lookups"; }
  std::string_view description() const override {
    return "every client of every worker looks up the same unmigrated users at the same moment";
  }
  std::vector<engine::OptionSpec> options() const override {
    return {{"rounds", 2, "times each client goes through the users", 1, 100, {}}};
  }

  void run(engine::Trial& trial) const override {
    const auto& o = trial.options();
    const auto users = trial.choose_users(static_cast<int>(o.integer("users")), "users");
    const int workers = static_cast<int>(o.integer("workers"));
    const int clients = static_cast<int>(o.integer("clients"));
    const int rounds = static_cast<int>(o.integer("rounds"));
    trial.note_choice({{"kind", "duplicate_lookups"},
                       {"users", users},
                       {"workers", workers},
                       {"clients_per_worker", clients},
                       {"rounds", rounds}});
    wait_for(trial, start_lookup_fleet(trial, workers, clients, users, rounds, 0));
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(ConcurrentDuplicateLookups);

}  // namespace orgquake::scenarios
