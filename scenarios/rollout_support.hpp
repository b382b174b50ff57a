#pragma once

// Building blocks of the rollout scenarios (feature_flag_rollout,
// shadow_orgs): a flag walked through steps while requests (op serve) run,
// each step taken on the story's progress rather than at a moment; the
// faults they share; and what their histories must show to have exercised
// a rollout.

#include <cstdint>
#include <string>
#include <vector>

#include "engine/trial.hpp"

namespace orgquake::scenarios {

/// One state the flag is set to.
struct RolloutStep {
  std::string name;  ///< as the guide calls it: "50 %", "rollback"
  int percentage = 0;
  std::vector<std::string> allow_list;
  /// Taken once this many requests have completed (and some request read
  /// the state before it).
  int after_completed = 0;
};

/// Runs `fleet` (workers serving requests) and walks the flag through
/// `steps` meanwhile: each step once its share of requests completed and
/// some request read the flag as it stood (the controller may see
/// completions in bursts, and a state no request read was not rolled out).
/// Records the steps as a choice; waits for the fleet.
void run_rollout(engine::Trial& trial, std::vector<engine::WorkerOptions> fleet,
                 const std::vector<RolloutStep>& steps);

/// LiteLLM key moves and Stripe customer updates fail by a probability
/// drawn per request, in force from the start.
void plan_rollout_http_faults(engine::Trial& trial);

/// The first `kills` users whose migration reaches its commit lose their
/// transaction there (their own session terminated while the client waits
/// at the failpoint): keyed to the story (the first migrations, which the
/// flag decides), not to a moment or a guessed request. Gates the commit
/// in every worker of `fleet`. Nothing when the migrator declares no commit
/// failpoint.
void plan_commit_kills(engine::Trial& trial, std::vector<engine::WorkerOptions>& fleet, int kills);

/// What a rollout's history showed, from the run phase's requests.
struct RolloutStory {
  int org = 0, legacy = 0;           ///< ok requests by path
  int compared = 0;                  ///< of them, those that compared the other path
  int org_uncompared = 0;            ///< org-path requests that did not compare
  std::vector<std::int64_t> unread;  ///< flag versions set that no request read
  int steps_taken = 0;
  /// Users the org path served before the last rollback (a step to 0 % with
  /// no allow list) that a request under it served by the legacy path.
  int rolled_back_users = 0;
  bool kill_met = false;  ///< a backend kill terminated a session
};
RolloutStory rollout_story(const history::History& history);

/// Marks the trial not exercised for each claim of a rollout the story
/// does not show: every step taken and read, both paths served, the paths
/// compared, and (when `rollback`) a user sent back to the legacy path.
void require_rollout_exercised(engine::Trial& trial, const RolloutStory& story, std::size_t steps,
                               bool rollback);

}  // namespace orgquake::scenarios
