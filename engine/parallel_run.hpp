#pragma once

// `orgquake run --jobs N`: a run's trials spread over N lanes, each a child
// `orgquake run` with its own services (database clone, fakes, Redis keys or
// server), joined into the one result a serial run of the same seed gives.

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "engine/controller_run.hpp"
#include "results/run_result.hpp"

namespace orgquake::engine {

/// The arguments (after the program) that make `orgquake` run the parent's
/// request as a lane: the trials of `queue` it claims (claim_trial, in
/// lane_claims_dir(lane_dir)), in that order, writing each finished trial to
/// lane_trial_file(lane_dir, index).
using LaneArguments = std::function<std::vector<std::string>(
    const std::vector<int>& queue, const std::filesystem::path& lane_dir)>;

/// Where a lane leaves trial `index`: written whole (renamed into place) once
/// the trial is judged, with its history.
std::filesystem::path lane_trial_file(const std::filesystem::path& lane_dir, int index);

/// Where the lanes of one run claim their trials from the shared queue: beside
/// each lane's own directory.
std::filesystem::path lane_claims_dir(const std::filesystem::path& lane_dir);

/// Claims trial `index` for lane `lane` (a lane's RunRequest::claim): true
/// for exactly one caller per index, whatever the lanes race. Throws
/// EnvironmentError when the claim cannot be written.
bool claim_trial(const std::filesystem::path& claims_dir, int lane, int index);

/// Runs the request's trials in min(jobs, trials) lanes and returns the run
/// as run_suite would: trials in index order, each with its history. Prints
/// each trial's line as it finishes. The lanes share one queue, ordered so
/// that lanes side by side run different scenarios (a connection storm beside
/// a lease running out, not beside another storm): each lane takes the next
/// trial no lane has claimed. A lane that dies leaves the trial it was
/// running unknown, naming its exit and its log; the others run the rest.
/// Throws UsageError for a request run_suite would refuse, EnvironmentError
/// with a lane's one line when a lane refuses as a serial run would (a full
/// disk, a server that will not start), Interrupted on Ctrl-C (every lane
/// stopped in each case).
results::RunResult run_suite_in_lanes(const RunRequest& request, int jobs,
                                      const LaneArguments& lane_arguments);

}  // namespace orgquake::engine
