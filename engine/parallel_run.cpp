#include "engine/parallel_run.hpp"

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <string_view>
#include <sys/wait.h>
#include <thread>
#include <tuple>
#include <unistd.h>

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
  std::filesystem::path dir;
  std::filesystem::path log;
  std::optional<services::ChildProcess> process;
  bool finished = false;  ///< exited, and its files were read a last time
};

/// Reads the trial files the lane has written since the last look: one
/// listing of its directory a look, not a probe for every trial of the queue.
void collect(const Lane& lane, const std::vector<int>& queue,
             std::map<int, results::TrialResult>& done,
             const std::function<void(results::TrialResult&)>& on_done) {
  std::set<std::filesystem::path> written;
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(lane.dir, ignored)) {
    written.insert(entry.path().filename());
  }
  for (int index : queue) {
    if (done.contains(index)) continue;
    const auto path = lane_trial_file(lane.dir, index);
    if (!written.contains(path.filename())) continue;
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

std::filesystem::path claim_file(const std::filesystem::path& claims_dir, int index) {
  return claims_dir / fmt::format("trial-{}", index);
}

/// The lane that claimed trial `index`, if one did.
std::optional<int> claimant(const std::filesystem::path& claims_dir, int index) {
  std::ifstream in(claim_file(claims_dir, index));
  int lane = 0;
  if (in >> lane) return lane;
  return std::nullopt;
}

/// The order the lanes take trials in: each scenario's first trial, then
/// each one's second, and so on. A suite lists a scenario's trials together,
/// so in index order two lanes would run the same scenario side by side and
/// contend for the same thing (a storm of connections beside another storm),
/// where interleaved they pair a busy trial with one that mostly waits.
std::vector<int> queue_order(const std::vector<PlannedTrialInfo>& planned) {
  std::map<std::string, int> seen;
  std::vector<std::pair<int, int>> keyed;  // (round, index)
  for (const auto& trial : planned) keyed.emplace_back(seen[trial.scenario]++, trial.index);
  std::stable_sort(keyed.begin(), keyed.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<int> queue;
  for (const auto& [round, index] : keyed) queue.push_back(index);
  return queue;
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

std::filesystem::path lane_claims_dir(const std::filesystem::path& lane_dir) {
  return lane_dir.parent_path() / "claims";
}

bool claim_trial(const std::filesystem::path& claims_dir, int lane, int index) {
  // Written whole, then linked into place: link(2) fails if the name exists,
  // so exactly one lane wins, and the winner's number is there to read as
  // soon as the claim is (a lane that dies right after still names itself).
  const auto draft = claims_dir / fmt::format(".lane-{}-trial-{}", lane, index);
  {
    std::ofstream out(draft);
    out << lane << '\n';
    if (!out.flush()) throw_errno("cannot write the claim " + draft.string());
  }
  const bool won = ::link(draft.c_str(), claim_file(claims_dir, index).c_str()) == 0;
  const int err = errno;
  std::error_code ignored;
  std::filesystem::remove(draft, ignored);
  if (!won && err != EEXIST) {
    throw EnvironmentError(errno_message(
        "cannot claim trial " + std::to_string(index) + " in " + claims_dir.string(), err));
  }
  return won;
}

namespace {

std::filesystem::path seconds_file(const std::filesystem::path& claims_dir,
                                   const std::string& scenario) {
  return claims_dir / ("seconds-" + scenario);
}

/// How long a trial of `scenario` has taken at most, as the lanes told; none
/// while no lane has finished one.
std::optional<double> scenario_seconds(const std::filesystem::path& claims_dir,
                                       const std::string& scenario) {
  std::ifstream in(seconds_file(claims_dir, scenario));
  double seconds = 0;
  if (in >> seconds) return seconds;
  return std::nullopt;
}

}  // namespace

LaneQueue::LaneQueue(std::filesystem::path claims_dir, int lane,
                     std::vector<PlannedTrialInfo> queue)
    : claims_dir_(std::move(claims_dir)), lane_(lane) {
  for (std::size_t i = 0; i < queue.size(); ++i) {
    left_[queue[i].scenario].push_back({i, queue[i].index});
  }
}

std::optional<int> LaneQueue::next() {
  // Lower goes first: scenarios no lane has timed, in queue order; then the
  // longest, ties in queue order.
  using Rank = std::tuple<bool, double, std::size_t>;
  const auto rank = [](std::optional<double> seconds, std::size_t position) {
    return Rank{seconds.has_value(), seconds ? -*seconds : 0.0, position};
  };
  for (;;) {
    std::deque<Entry>* best = nullptr;
    Rank best_rank;
    for (auto& [scenario, left] : left_) {
      if (left.empty()) continue;
      const Rank candidate = rank(scenario_seconds(claims_dir_, scenario), left.front().position);
      if (best == nullptr || candidate < best_rank) {
        best = &left;
        best_rank = candidate;
      }
    }
    if (best == nullptr) return std::nullopt;
    const int index = best->front().index;
    best->pop_front();
    if (claim_trial(claims_dir_, lane_, index)) return index;
  }
}

void LaneQueue::finished(const std::string& scenario, double seconds) {
  const auto known = scenario_seconds(claims_dir_, scenario);
  if (known && *known >= seconds) return;
  // Renamed into place, so that a reader sees a whole number; two lanes
  // racing here each write a time some trial took, either will do.
  const auto draft = claims_dir_ / fmt::format(".seconds-{}-lane-{}", scenario, lane_);
  {
    std::ofstream out(draft);
    out << seconds << '\n';
    if (!out.flush()) throw_errno("cannot write " + draft.string());
  }
  std::filesystem::rename(draft, seconds_file(claims_dir_, scenario));
}

results::RunResult run_suite_in_lanes(
    const RunRequest& request, int jobs, const LaneArguments& lane_arguments,
    const std::function<void(const results::RunResult&)>& on_all_trials_in) {
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
  for (auto& lane : lanes) {
    lane.number = static_cast<int>(&lane - lanes.data()) + 1;
    lane.dir = lanes_dir / std::to_string(lane.number);
    lane.log = std::filesystem::absolute(request.out_dir / "logs" /
                                         fmt::format("lane-{}.log", lane.number));
  }
  const auto queue = queue_order(planned);
  const auto claims_dir = lane_claims_dir(lanes.front().dir);
  std::filesystem::create_directories(claims_dir);
  std::map<int, const PlannedTrialInfo*> plan_of;
  for (const auto& trial : planned) plan_of[trial.index] = &trial;

  results::RunResult run = run_header(request, migrator);
  if (request.progress) {
    fmt::print("orgquake run: suite {}, migrator {}, seed {}, {} trials in {} lanes\n", run.suite,
               run.migrator, run.seed, planned.size(), lane_count);
    std::fflush(stdout);
  }

  std::map<int, results::TrialResult> done;
  bool assembled = false;
  // The trials into the run, in index order, once none can still come, and
  // the run to the caller: once, as soon as every trial is in, or at the end.
  const auto assemble = [&] {
    if (assembled) return;
    for (auto& [index, trial] : done) {
      run.verdict = std::max(run.verdict, trial.verdict);
      run.trials.push_back(std::move(trial));
    }
    run.duration_s = std::chrono::duration<double>(Clock::now() - started).count();
    assembled = true;
    if (on_all_trials_in) on_all_trials_in(run);
  };
  const auto on_done = [&](results::TrialResult& trial) {
    trial.repro_command =
        fmt::format("orgquake repro {} --trial {}", request.out_dir.string(), trial.index);
    if (request.progress) {
      print_trial_line(trial, done.size() + 1, planned.size());
      std::fflush(stdout);
    }
  };
  // A trial no lane could judge is unknown, with why.
  const auto lose = [&](int index, std::string why) {
    const auto& plan = *plan_of.at(index);
    results::TrialResult lost;
    lost.index = index;
    lost.scenario = plan.scenario;
    lost.seed = plan.seed;
    lost.verdict = results::Validity::unknown;
    lost.error = std::move(why);
    on_done(lost);
    done.emplace(index, std::move(lost));
  };
  try {
    for (auto& lane : lanes) {
      std::filesystem::create_directories(lane.dir);
      services::ChildSpec spec;
      spec.program = self;
      spec.args = lane_arguments(queue, std::filesystem::absolute(lane.dir));
      spec.log_file = lane.log;
      spec.working_directory = std::filesystem::current_path();
      lane.process.emplace(services::ChildProcess::spawn(spec));
    }
    while (std::any_of(lanes.begin(), lanes.end(), [](const Lane& l) { return !l.finished; })) {
      throw_if_interrupted();
      for (auto& lane : lanes) {
        if (lane.finished) continue;
        const bool running = lane.process->running();
        // After running(): an exited lane's files are all there.
        collect(lane, queue, done, on_done);
        if (running) continue;
        lane.finished = true;
        // A lane exits 0 whatever its verdicts, and harness_error only through
        // main's one-line refusal: what stopped it would stop a serial run of
        // the same trials too, so it is the run's error, said once.
        const int status = lane.process->wait_status().value_or(-1);
        if (WIFEXITED(status) && WEXITSTATUS(status) == static_cast<int>(ExitCode::harness_error)) {
          if (auto line = refusal_line(lane.log); !line.empty()) {
            throw EnvironmentError(
                fmt::format("{} (lane {}; its log is {})", line, lane.number, lane.log.string()));
          }
        }
        for (int index : queue) {
          if (done.contains(index) || claimant(claims_dir, index) != lane.number) continue;
          lose(index, fmt::format("lane {} {} before this trial finished; its log is {}",
                                  lane.number, lane.process->describe_exit(), lane.log.string()));
        }
        // A lane that died could not remove its run directory (its servers'
        // data, sockets and logs) nor reap what it started: the children
        // died with it (death signal); the directory goes now, not at the
        // next run, by the same rule as a stale run's, once the servers'
        // orphans have stopped writing into it.
        if (status != 0) {
          const auto deadline = Clock::now() + std::chrono::seconds(10);
          while (services::remove_stale_runs(services::runtime_root()) > 0 &&
                 Clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
          }
        }
      }
      // Every trial is in: the lanes are stopping their services, which
      // the reports need nothing from.
      if (done.size() == queue.size()) assemble();
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Every lane ended, and none was left to take these.
    for (int index : queue) {
      if (!done.contains(index)) lose(index, "every lane had ended before this trial was run");
    }
  } catch (...) {
    stop_all(lanes);
    std::error_code ignored;
    std::filesystem::remove_all(lanes_dir, ignored);
    throw;
  }
  std::filesystem::remove_all(lanes_dir);
  assemble();
  return run;
}

}  // namespace orgquake::engine
