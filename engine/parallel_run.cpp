#include "engine/parallel_run.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string_view>
#include <sys/wait.h>
#include <thread>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "results/run_result_json.hpp"
#include "services/child_process.hpp"
#include "services/run_directory.hpp"
#include "services/services.hpp"

namespace orgquake::engine {
namespace {

using Clock = std::chrono::steady_clock;

struct Lane {
  int number = 0;
  std::vector<int> indexes;  ///< the trials it was given, in index order
  std::filesystem::path dir;
  std::filesystem::path log;
  std::optional<services::ChildProcess> process;
  bool finished = false;  ///< exited, and its files were read a last time
};

/// Reads the trial files the lane has written since the last look.
void collect(Lane& lane, std::map<int, results::TrialResult>& done,
             const std::function<void(results::TrialResult&)>& on_done) {
  for (int index : lane.indexes) {
    if (done.contains(index)) continue;
    const auto path = lane_trial_file(lane.dir, index);
    std::ifstream in(path);
    if (!in) continue;
    results::TrialResult trial;
    try {
      trial = results::trial_with_history_from_json(nlohmann::json::parse(in));
    } catch (const std::exception& e) {
      // Written by rename, so a file is whole: one that does not parse is a
      // lane bug, and the trial has no trustworthy result.
      trial.index = index;
      trial.verdict = results::Validity::unknown;
      trial.error = fmt::format("lane {} wrote an unreadable result ({}): {}", lane.number,
                                path.string(), e.what());
    }
    on_done(trial);
    done.emplace(index, std::move(trial));
  }
}

/// The one line a lane printed when it refused to go on (a full disk, a port
/// in use, a server that would not start), without main's "orgquake: "; empty
/// when the log has none.
std::string refusal_line(const std::filesystem::path& log) {
  std::ifstream in(log);
  std::string line, last;
  constexpr std::string_view prefix = "orgquake: ";
  while (std::getline(in, line)) {
    if (line.starts_with(prefix)) last = line.substr(prefix.size());
  }
  return last;
}

void stop_all(std::vector<Lane>& lanes) {
  for (auto& lane : lanes) {
    if (lane.process && lane.process->running())
      lane.process->stop(SIGINT, std::chrono::seconds(10));
  }
}

}  // namespace

std::filesystem::path lane_trial_file(const std::filesystem::path& lane_dir, int index) {
  return lane_dir / fmt::format("trial-{}.json", index);
}

results::RunResult run_suite_in_lanes(const RunRequest& request, int jobs,
                                      const LaneArguments& lane_arguments) {
  const auto started = Clock::now();
  const auto planned = plan_run(request);
  // The migrator must start and declare itself before any lane does: a
  // missing interpreter is one line, not one per lane.
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  const auto migrator = describe_migrator(request.migrator, self, std::chrono::seconds(20));
  // So must every check the lanes' services make before they start: a bad URL
  // or a missing server program is this run's one line, once.
  services::Services::check(request.services);

  const int lane_count = std::max(1, std::min<int>(jobs, static_cast<int>(planned.size())));
  const auto lanes_dir = request.out_dir / ".lanes";
  std::filesystem::remove_all(lanes_dir);
  std::filesystem::create_directories(request.out_dir / "logs");
  std::vector<Lane> lanes(static_cast<std::size_t>(lane_count));
  // Round robin over the trials in index order: a suite lists each
  // scenario's trials together, so each lane gets a share of every scenario.
  for (std::size_t i = 0; i < planned.size(); ++i) {
    lanes[i % lanes.size()].indexes.push_back(planned[i].index);
  }
  std::map<int, const PlannedTrialInfo*> plan_of;
  for (const auto& trial : planned) plan_of[trial.index] = &trial;

  results::RunResult run = run_header(request, migrator);
  if (request.progress) {
    fmt::print("orgquake run: suite {}, migrator {}, seed {}, {} trials in {} lanes\n", run.suite,
               run.migrator, run.seed, planned.size(), lane_count);
    std::fflush(stdout);
  }

  std::map<int, results::TrialResult> done;
  const auto on_done = [&](results::TrialResult& trial) {
    trial.repro_command =
        fmt::format("orgquake repro {} --trial {}", request.out_dir.string(), trial.index);
    if (request.progress) {
      print_trial_line(trial, done.size() + 1, planned.size());
      std::fflush(stdout);
    }
  };
  try {
    for (auto& lane : lanes) {
      lane.number = static_cast<int>(&lane - lanes.data()) + 1;
      lane.dir = lanes_dir / std::to_string(lane.number);
      lane.log = std::filesystem::absolute(request.out_dir / "logs" /
                                           fmt::format("lane-{}.log", lane.number));
      std::filesystem::create_directories(lane.dir);
      services::ChildSpec spec;
      spec.program = self;
      spec.args = lane_arguments(lane.indexes, std::filesystem::absolute(lane.dir));
      spec.log_file = lane.log;
      spec.working_directory = std::filesystem::current_path();
      lane.process.emplace(services::ChildProcess::spawn(spec));
    }
    while (std::any_of(lanes.begin(), lanes.end(), [](const Lane& l) { return !l.finished; })) {
      throw_if_interrupted();
      for (auto& lane : lanes) {
        if (lane.finished) continue;
        const bool running = lane.process->running();
        collect(lane, done, on_done);  // after running(): an exited lane's files are all there
        if (running) continue;
        lane.finished = true;
        // A lane exits 0 whatever its verdicts, and harness_error only through
        // main's one-line refusal: what stopped it would stop a serial run of
        // the same trials too, so it is the run's error, said once.
        const auto status = lane.process->wait_status();
        if (status && WIFEXITED(*status) &&
            WEXITSTATUS(*status) == static_cast<int>(ExitCode::harness_error)) {
          if (auto line = refusal_line(lane.log); !line.empty()) {
            throw EnvironmentError(
                fmt::format("{} (lane {}; its log is {})", line, lane.number, lane.log.string()));
          }
        }
        bool lost_any = false;
        for (int index : lane.indexes) {
          if (done.contains(index)) continue;
          lost_any = true;
          const auto& plan = *plan_of.at(index);
          results::TrialResult lost;
          lost.index = index;
          lost.scenario = plan.scenario;
          lost.seed = plan.seed;
          lost.verdict = results::Validity::unknown;
          lost.error = fmt::format("lane {} {} before this trial finished; its log is {}",
                                   lane.number, lane.process->describe_exit(), lane.log.string());
          on_done(lost);
          done.emplace(index, std::move(lost));
        }
        // A lane that died could not remove its run directory (its servers'
        // data, sockets and logs) nor reap what it started: the children
        // died with it (death signal); the directory goes now, not at the
        // next run, by the same rule as a stale run's.
        if (lost_any) services::remove_stale_runs(services::runtime_root());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } catch (...) {
    stop_all(lanes);
    std::error_code ignored;
    std::filesystem::remove_all(lanes_dir, ignored);
    throw;
  }
  std::filesystem::remove_all(lanes_dir);

  for (auto& [index, trial] : done) {
    run.verdict = std::max(run.verdict, trial.verdict);
    run.trials.push_back(std::move(trial));
  }
  run.duration_s = std::chrono::duration<double>(Clock::now() - started).count();
  return run;
}

}  // namespace orgquake::engine
