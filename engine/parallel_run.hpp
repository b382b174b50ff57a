#pragma once

// `orgquake run --jobs N`: a run's trials spread over N lanes, each a child
// `orgquake run` with its own services (database clone, fakes, Redis keys or
// server), joined into the one result a serial run of the same seed gives.

#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "engine/controller_run.hpp"
#include "results/run_result.hpp"

namespace orgquake::engine {

/// The arguments (after the program) that make `orgquake` run the parent's
/// request as a lane: the trials of `queue` it claims (a LaneQueue on
/// lane_claims_dir(lane_dir)), writing each finished trial to
/// lane_trial_file(lane_dir, index).
using LaneArguments = std::function<std::vector<std::string>(
    const std::vector<int>& queue, const std::filesystem::path& lane_dir)>;

/// Where a lane leaves trial `index`: written whole (renamed into place) once
/// the trial is judged, with its history.
std::filesystem::path lane_trial_file(const std::filesystem::path& lane_dir, int index);

/// Where the lanes of one run claim their trials from the shared queue: beside
/// each lane's own directory.
std::filesystem::path lane_claims_dir(const std::filesystem::path& lane_dir);

/// Claims trial `index` for lane `lane`: true for exactly one caller per
/// index, whatever the lanes race. Throws EnvironmentError when the claim
/// cannot be written.
bool claim_trial(const std::filesystem::path& claims_dir, int lane, int index);

/// A lane's side of the run's shared queue (its RunRequest::next_trial).
/// Until every scenario has finished a trial, the lane takes trials in the
/// queue's order, which interleaves the scenarios; after that, the trial of
/// the scenario that has taken longest so far (as any lane has seen it), so
/// that the long trials start early and the run does not end on one lane
/// working through a long trial while the others idle.
class LaneQueue {
 public:
  /// `queue`: the run's trials in queue order, with their scenarios.
  LaneQueue(std::filesystem::path claims_dir, int lane, std::vector<PlannedTrialInfo> queue);
  /// The next trial this lane has claimed; none when every trial is claimed.
  std::optional<int> next();
  /// Tells every lane how long a trial of `scenario` took.
  void finished(const std::string& scenario, double seconds);

 private:
  struct Entry {
    std::size_t position;  ///< in the queue
    int index;
  };
  std::filesystem::path claims_dir_;
  int lane_;
  /// Each scenario's trials this lane has not tried to claim, in queue order.
  std::map<std::string, std::deque<Entry>> left_;
};

/// Runs the request's trials in min(jobs, trials) lanes and returns the run
/// as run_suite would: trials in index order, each with its history. Prints
/// each trial's line as it finishes. The lanes share one queue, ordered so
/// that lanes side by side run different scenarios (a connection storm beside
/// a lease running out, not beside another storm): each lane takes a trial
/// no lane has claimed (LaneQueue: the queue's next, then the longest). A lane that dies leaves the
/// trial it was running unknown, naming its exit and its log; the others run the rest. Throws
/// UsageError for a request run_suite would refuse, EnvironmentError with a lane's one line when a
/// lane refuses as a serial run would (a full disk, a server that will not start), Interrupted on
/// Ctrl-C (every lane stopped in each case).
/// `on_all_trials_in`, when given, gets the run as soon as every trial is
/// in, while the lanes still stop their services: the reports can be
/// written meanwhile. The run it gets is the one returned.
results::RunResult run_suite_in_lanes(
    const RunRequest& request, int jobs, const LaneArguments& lane_arguments,
    const std::function<void(const results::RunResult&)>& on_all_trials_in = {});

}  // namespace orgquake::engine
