#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <sys/types.h>
#include <vector>

namespace orgquake::services {

/// A system account a child runs as (postgres refuses to run as root).
struct Account {
  std::string name;
  uid_t uid;
  gid_t gid;
};

/// Looks up `name`; nullopt if the account does not exist.
std::optional<Account> find_account(const std::string& name);

struct ChildSpec {
  std::filesystem::path program;
  std::vector<std::string> args;   ///< without argv[0]
  std::filesystem::path log_file;  ///< stdout and stderr go here (appended)
  std::optional<Account> run_as;   ///< switch to this account before exec
  std::filesystem::path working_directory = "/";
  /// A descriptor the child gets as fd 3 (a worker's channel to the
  /// controller); -1 for none. Every other descriptor is closed on exec.
  int channel_fd = -1;
  /// Variables set in the child's environment on top of the harness's own.
  std::map<std::string, std::string> environment;
};

/// A child process that cannot outlive the harness.
///
/// The child leads its own process group (so a stop reaches everything it
/// forked, such as postgres backends, and a terminal's Ctrl-C reaches only the
/// harness, which then stops its children in order) and gets SIGKILL when the
/// thread that spawned it dies (PR_SET_PDEATHSIG), so a harness killed with
/// SIGKILL leaves nothing running. Spawn from a thread that lives as long as
/// the child should, normally the main thread.
class ChildProcess {
 public:
  /// Starts the child; throws EnvironmentError if it cannot be executed (a
  /// missing binary is reported here, not as a mysterious early exit).
  static ChildProcess spawn(const ChildSpec& spec);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  /// Kills the whole process group if it is still running.
  ~ChildProcess();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }

  /// True until the child has exited (reaps it when it has).
  bool running();
  /// The wait status once the child has exited.
  std::optional<int> wait_status() const { return status_; }
  /// "exited with status 1" / "killed by signal 9".
  std::string describe_exit() const;

  /// Sends `signal` to the child, waits up to `grace` for it to exit, then
  /// SIGKILLs the process group; always reaps. Stragglers the leader left in
  /// its group are killed too, while the group id is still certainly ours.
  void stop(int signal, std::chrono::milliseconds grace);

  /// Waits up to `grace` for the child to exit by itself, sending nothing;
  /// true once it has (it is not reaped: stop() does that).
  bool wait_for_exit(std::chrono::milliseconds grace);

  /// How many processes other than the leader were still in its process
  /// group when the leader had exited by itself (stop() then killed them): a
  /// worker must not leave children behind.
  int left_behind() const { return left_behind_; }

 private:
  ChildProcess(pid_t pid, std::string name) : pid_(pid), name_(std::move(name)) {}
  bool reap(int options);
  bool leader_exited() const;

  pid_t pid_ = -1;
  std::string name_;
  std::optional<int> status_;
  int left_behind_ = 0;
};

/// Field 22 of /proc/<pid>/stat: the process's start time in clock ticks
/// since boot. Together with the pid it names a process uniquely, which guards
/// stale-run cleanup against pid reuse. nullopt if there is no such process.
std::optional<std::uint64_t> process_start_time(pid_t pid);

}  // namespace orgquake::services
