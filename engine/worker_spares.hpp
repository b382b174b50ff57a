#pragma once

// Worker processes started ahead of their plans. A process's start-up (a
// binary linking libpq's libraries: about 40 ms here; an interpreter
// importing its modules: more) is spent between trials rather than in a
// trial's run phase, where the scenario wants its workers ready together.

#include <deque>
#include <filesystem>
#include <memory>

#include "services/child_process.hpp"
#include "worker/channel.hpp"

namespace orgquake::engine {

struct WorkerCommand;

/// A started process of a migrator's worker command, its channel open,
/// waiting for its first message (a plan).
struct WorkerProcess {
  services::ChildProcess process;
  std::unique_ptr<worker::Channel> channel;
  std::filesystem::path log;

  /// Starts one now, logging to `log`. Throws EnvironmentError.
  static WorkerProcess start(const WorkerCommand& command, const std::filesystem::path& log);
};

/// The spare worker processes of one run (or lane): a trial takes them as
/// it starts workers, and they are started again after its run phase, for
/// the next trial. Spares are processes like any worker: they die with the
/// controller (a death signal) and are killed when this is destroyed, their
/// logs removed, since they ran nothing.
class WorkerSpares {
 public:
  /// `log_dir`: where spares log until they are given a plan (their log is
  /// then renamed to the worker's).
  WorkerSpares(const WorkerCommand& command, std::filesystem::path log_dir);
  WorkerSpares(const WorkerSpares&) = delete;
  WorkerSpares& operator=(const WorkerSpares&) = delete;
  ~WorkerSpares();

  /// A process for a worker logging to `log`: a spare if one is waiting,
  /// else one started now.
  WorkerProcess take(const std::filesystem::path& log);
  /// Keeps at least `count` spares from now on (a trial that will start
  /// that many workers), starting the missing ones.
  void keep(int count);
  /// Starts spares up to the count kept.
  void refill();
  std::size_t waiting() const { return spares_.size(); }

 private:
  const WorkerCommand& command_;
  std::filesystem::path log_dir_;
  std::deque<WorkerProcess> spares_;
  int kept_ = 0;
  int started_ = 0;
};

}  // namespace orgquake::engine
