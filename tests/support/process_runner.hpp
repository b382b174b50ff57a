#pragma once

#include <chrono>
#include <string>
#include <sys/types.h>
#include <vector>

namespace orgquake::test {

/// The orgquake binary of this build.
std::string orgquake_binary();

struct CommandResult {
  int exit_code = -1;  ///< -1 if killed by a signal or timed out
  std::string out;
  std::string err;
};

/// Runs `program args...` to completion (bounded by `timeout`, after which it
/// is killed), capturing stdout and stderr. `environment` holds "NAME=value"
/// entries added to (or replacing in) the test's own environment.
CommandResult run_command(const std::string& program, const std::vector<std::string>& args,
                          const std::vector<std::string>& environment = {},
                          std::chrono::seconds timeout = std::chrono::seconds(120));

/// Shorthand: run_command(orgquake_binary(), args, environment).
CommandResult run_orgquake(const std::vector<std::string>& args,
                           const std::vector<std::string>& environment = {});

/// A temporary directory, removed with everything in it when destroyed.
class TemporaryDirectory {
 public:
  TemporaryDirectory();
  ~TemporaryDirectory();
  TemporaryDirectory(const TemporaryDirectory&) = delete;
  TemporaryDirectory& operator=(const TemporaryDirectory&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

/// A long-running command (such as `orgquake services up`) whose stdout is
/// read line by line. Killed (SIGKILL, whole process group) when destroyed.
class BackgroundCommand {
 public:
  BackgroundCommand(const std::string& program, const std::vector<std::string>& args);
  ~BackgroundCommand();
  BackgroundCommand(const BackgroundCommand&) = delete;
  BackgroundCommand& operator=(const BackgroundCommand&) = delete;

  pid_t pid() const { return pid_; }
  /// Reads stdout until a line starting with `prefix` arrives; returns every
  /// line read so far. Throws if the process ends or `timeout` passes first.
  std::vector<std::string> read_until(const std::string& prefix, std::chrono::seconds timeout);
  void kill_now(int signal);
  /// Waits for exit; returns the wait status.
  int wait();

 private:
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
  std::vector<std::string> lines_;
  bool reaped_ = false;
};

/// True if a process with this pid exists (zombies count as gone).
bool process_exists(pid_t pid);

/// Pids of the live children of `parent` (scanning /proc). Postgres puts each
/// backend in a session of its own, so its children are found by parent, not
/// by process group; record them before the parent dies.
std::vector<pid_t> children_of(pid_t parent);

/// Polls `condition` every 10 ms until it holds or `timeout` passes.
template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    struct timespec ts {
      0, 10'000'000
    };
    nanosleep(&ts, nullptr);
  }
  return true;
}

}  // namespace orgquake::test
