#pragma once

// Building blocks the scenarios share: fleets of workers whose clients look
// users up, and the one-worker-per-failpoint crash rounds.

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "engine/trial.hpp"

namespace orgquake::scenarios {

/// What `workers` workers of `clients` clients each run: client c of worker
/// w looks up `users` in order, `rounds` times, starting at user
/// (w * clients + c) * `offset_step` so that clients can be made to start on
/// the same user (offset_step 0: everyone races for the same user at the
/// same moment) or spread out; client c starts c * `stagger` late. The
/// operations are of `kind` (a rollout's requests: history::op_serve).
std::vector<engine::WorkerOptions> lookup_fleet(
    engine::Trial& trial, int workers, int clients, const std::vector<std::string>& users,
    int rounds, int offset_step, std::chrono::milliseconds stagger = std::chrono::milliseconds(0),
    std::string_view kind = history::op_lookup);

/// Starts a fleet (every worker connected before any starts), then lets
/// all go.
std::vector<int> start_fleet(engine::Trial& trial, std::vector<engine::WorkerOptions> fleet);

/// lookup_fleet, started: start_fleet(lookup_fleet(...)).
std::vector<int> start_lookup_fleet(
    engine::Trial& trial, int workers, int clients, const std::vector<std::string>& users,
    int rounds, int offset_step, std::chrono::milliseconds stagger = std::chrono::milliseconds(0));

/// The operations of `fleet` that first look up `user` in their clients,
/// at most `count`, those with the fewest lookups before them first (the
/// likeliest to find the user unmigrated, to be the one that migrates it):
/// what a fault meant for the user's migration is keyed to.
std::vector<std::int64_t> first_lookups_of(const std::vector<engine::WorkerOptions>& fleet,
                                           const std::string& user, std::size_t count);

/// Whether a fault event of `kind` in the history recorded `field` above 0
/// (a backend kill that terminated a session, an HTTP fault that fired):
/// what a scenario checks before saying it exercised its faults.
bool any_fault_counted(const history::History& history, std::string_view kind, const char* field);

/// The failpoints of `candidates` the migrator under test declares, in
/// order: a scenario aims only where the migrator can be stopped.
std::vector<std::string> declared(const engine::Trial& trial,
                                  const std::vector<std::string>& candidates);

/// Waits for the workers within the trial's run timeout; throws if they do
/// not finish (the trial is then unknown, not silently passed).
void wait_for(engine::Trial& trial, const std::vector<int>& workers);

/// One client looking up each user once, in one new worker (started and going).
int lookup_once(engine::Trial& trial, const std::vector<std::string>& users,
                std::chrono::milliseconds lock_max_wait);

/// Users of the fixture world that have the edge case (in world order).
std::vector<std::string> users_with(const engine::Trial& trial, world::EdgeCase flag);

/// Users of the fixture world that have none of the given edge cases.
std::vector<std::string> users_without(const engine::Trial& trial, world::EdgeCase flags);

}  // namespace orgquake::scenarios
