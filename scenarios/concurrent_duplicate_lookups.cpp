// Many clients in several workers look up the same unmigrated users at the
// same moment: every client of every worker starts on the same user, so the
// first lookup of each user is a race of workers × clients requests for one
// lock. The invariants then prove one org per user, no double billing and
// no duplicated LiteLLM entries; the stats prove the race happened
// (max_concurrent_lookups, lock_waits).
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "history/operations.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct ConcurrentDuplicateLookupsSettings {
  int users, workers, clients, rounds;
};

class ConcurrentDuplicateLookups : public engine::ScenarioOf<ConcurrentDuplicateLookupsSettings> {
 public:
  std::string_view name() const override { return "concurrent_duplicate_lookups"; }
  std::string_view description() const override {
    return "every client of every worker looks up the same unmigrated users at the same moment";
  }
  ConcurrentDuplicateLookupsSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"), o.common_count("workers"), o.common_count("clients"),
            o.count("rounds", 2, 1, 100, "times each client goes through the users")};
  }

  void run(engine::Trial& trial, const ConcurrentDuplicateLookupsSettings& s) const override {
    const auto users = trial.choose_users(s.users, "users");
    const int workers = s.workers;
    const int clients = s.clients;
    const int rounds = s.rounds;
    trial.note_choice({{"kind", "duplicate_lookups"},
                       {"users", users},
                       {"workers", workers},
                       {"clients_per_worker", clients},
                       {"rounds", rounds}});
    wait_for(trial, start_lookup_fleet(trial, workers, clients, users, rounds, 0));
    // The claim is a race: without two lookups of one user in flight at
    // once, one org per user would be shown of a serial run.
    if (const int most = history::max_in_flight_for_one_user(trial.history(), history::op_lookup);
        most < 2) {
      trial.not_exercised(fmt::format(
          "no two lookups of one user were ever in flight at once (at most {}; {} workers x {} "
          "clients)",
          most, workers, clients));
    }
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(ConcurrentDuplicateLookups);

}  // namespace orgquake::scenarios
