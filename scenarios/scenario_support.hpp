#pragma once

// Building blocks the scenarios share: fleets of workers whose clients look
// users up, and the one-worker-per-failpoint crash rounds.

#include <chrono>
#include <string>
#include <vector>

#include "engine/trial.hpp"

namespace orgquake::scenarios {

/// `workers` workers of `clients` clients each. Client c of worker w looks up
/// `users` in order, `rounds` times, starting at user (w * clients + c) *
/// `offset_step` so that clients can be made to start on the same user
/// (offset_step 0: everyone races for the same user at the same moment) or
/// spread out. Every worker is connected before any starts; then all go.
std::vector<int> start_lookup_fleet(
    engine::Trial& trial, int workers, int clients, const std::vector<std::string>& users,
    int rounds, int offset_step, std::chrono::milliseconds stagger = std::chrono::milliseconds(0));

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
