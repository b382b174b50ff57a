#pragma once

// The worker fleet of a trial: the migrator's worker processes, each with
// its channel. It spawns them with their plans, pumps their channels
// (checking every message against the worker protocol and adding their
// events to the history), hands their gated firings to the failpoint gate
// and answers with its grants, and notices exits: a worker that dies leaves
// its open operations as `info`. It kills, stops and continues workers for
// the faults that act on them.
//
// What a worker breaks of the protocol is recorded (a `protocol_violation`
// fault event) and the worker is killed; any such violation makes the trial
// unknown.

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/failpoint_gate.hpp"
#include "history/history.hpp"
#include "worker/worker_plan.hpp"

namespace orgquake::engine {

struct MigratorUnderTest;
class WorkerSpares;

class WorkerFleet {
 public:
  using Clock = std::chrono::steady_clock;
  /// Records a fault event (kind, value) in the history, stamped now.
  using RecordFault = std::function<void(const std::string& kind, nlohmann::json value)>;

  struct Setup {
    const MigratorUnderTest& migrator;
    std::filesystem::path log_dir;  ///< worker logs: trial-T-worker-W.log
    int trial_index = 0;
    Clock::time_point trial_start;  ///< event times count from here
    /// Processes started ahead of their plans; none: each worker's is started at spawn().
    WorkerSpares* spares = nullptr;
  };

  WorkerFleet(Setup setup, history::History& history, FailpointGate& gate,
              RecordFault record_fault);
  WorkerFleet(const WorkerFleet&) = delete;
  WorkerFleet& operator=(const WorkerFleet&) = delete;
  /// Kills every worker still running.
  ~WorkerFleet();

  /// Starts a worker process running `plan` and sends it the plan; returns
  /// its index (plan.worker must be that index: next_index()). `scenario_gated`:
  /// the failpoints whose firings go to the scenario's handlers. Throws
  /// std::runtime_error for a plan too large for one message.
  int spawn(worker::WorkerPlan plan, std::set<std::string> scenario_gated);
  /// A worker slot with nothing to run (a reduced replay left it no
  /// operation): no process is started, and the slot counts as ready and
  /// finished, so that later workers keep their numbers.
  int spawn_idle();
  int next_index() const { return static_cast<int>(workers_.size()); }
  /// Whether the worker has said ready.
  bool ready(int worker) const;
  /// Why a worker did not get ready (its violation, its error, its exit);
  /// a worker still running counts as broken (it did not answer within
  /// `waited`) and is killed.
  std::string not_ready(int worker, std::chrono::milliseconds waited);
  std::filesystem::path log_of(int worker) const;

  /// Lets the workers' clients start.
  void go(const std::vector<int>& workers);
  /// Kills the workers that were started but never told to go (a scenario
  /// that stopped before their turn): they ran nothing, so waiting for them
  /// would only wait for the timeout. Returns how many.
  int dismiss_idle();
  /// Reads every channel until `deadline` or until something arrives, and
  /// handles what arrived.
  void pump(Clock::time_point deadline);
  /// Answers a gated firing (the gate's decision); nothing if the worker is gone.
  void grant(int worker, std::int64_t id, worker::HitDecision decision);

  bool finished(int worker) const;  ///< done, or exited
  bool all_finished() const;
  bool exited(int worker) const;
  /// SIGKILL to the worker's process group; what it wrote before dying is
  /// still read, then its open operations become `info`. False if it had
  /// already exited.
  bool kill(int worker);
  /// SIGSTOP / SIGCONT to the worker's process group: false when there was
  /// nothing to do.
  bool stop(int worker);
  bool resume(int worker);
  std::size_t size() const { return workers_.size(); }

  /// How workers broke the worker protocol, one line each ("migrator X:
  /// worker 2 wrote a line that is not JSON").
  const std::vector<std::string>& violations() const { return violations_; }

 private:
  struct Worker;
  Worker& at(int index);
  const Worker& at(int index) const;
  std::int64_t now_ns() const;
  /// Handles every complete message `worker` has sent, checking each
  /// against the protocol.
  void drain(Worker& worker);
  void handle_message(Worker& worker, const nlohmann::json& message);
  void handle_event(Worker& worker, const nlohmann::json& message);
  /// Sends to a worker within a deadline: one that stopped reading is a violation.
  void send(Worker& worker, const nlohmann::json& message);
  /// Records what `worker` broke of the protocol and kills its process group.
  void violation(Worker& worker, const std::string& what);
  void handle_exit(Worker& worker);

  Setup setup_;
  history::History& history_;
  FailpointGate& gate_;
  RecordFault record_fault_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::vector<std::string> violations_;
};

}  // namespace orgquake::engine
