#include "services/child_process.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <sstream>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::services {
namespace {

// Written by the child to the parent through a close-on-exec pipe when
// something between fork and exec fails; an empty read means exec succeeded.
struct ChildFailure {
  int step;
  int error;
};
enum Step { kRedirect = 1, kSetGroups, kSetGid, kSetUid, kChdir, kExec, kParentGone };

// Where a child finds its channel to the harness (ChildSpec::channel_fd).
constexpr int kChannelFd = 3;

const char* step_name(int step) {
  switch (step) {
    case kRedirect:
      return "redirect output";
    case kSetGroups:
      return "drop supplementary groups";
    case kSetGid:
      return "switch group";
    case kSetUid:
      return "switch user";
    case kChdir:
      return "change directory";
    case kExec:
      return "execute";
    case kParentGone:
      return "start (parent died)";
    default:
      return "start";
  }
}

[[noreturn]] void fail_in_child(int pipe_fd, int step) {
  ChildFailure failure{step, errno};
  [[maybe_unused]] auto n = write(pipe_fd, &failure, sizeof failure);
  _exit(127);
}

/// Live processes in process group `group` other than its leader, from
/// /proc: a zombie leader still counts for kill(-group, 0), so that cannot tell.
int count_group_members(pid_t group) {
  int members = 0;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", error)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::stoi(name) == group) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    if (!std::getline(in, stat)) continue;
    // Fields after the command (which may hold spaces) in parentheses:
    // state, ppid, pgrp.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(stat.substr(close + 1));
    char state = 0;
    long ppid = 0, pgrp = 0;
    if (rest >> state >> ppid >> pgrp && pgrp == group && state != 'Z') ++members;
  }
  return members;
}

}  // namespace

std::optional<Account> find_account(const std::string& name) {
  struct passwd entry {};
  struct passwd* result = nullptr;
  char buffer[4096];
  if (getpwnam_r(name.c_str(), &entry, buffer, sizeof buffer, &result) != 0 || result == nullptr) {
    return std::nullopt;
  }
  return Account{name, entry.pw_uid, entry.pw_gid};
}

ChildProcess ChildProcess::spawn(const ChildSpec& spec) {
  // Everything the child needs is prepared before fork: after fork in a
  // threaded program only async-signal-safe calls are allowed.
  std::vector<std::string> argv_storage;
  argv_storage.push_back(spec.program.string());
  argv_storage.insert(argv_storage.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const std::string program = spec.program.string();
  const std::string workdir = spec.working_directory.string();
  // The child's environment: ours, with the spec's variables on top.
  std::vector<std::string> env_storage;
  for (char** variable = environ; *variable != nullptr; ++variable) {
    const std::string_view entry(*variable);
    const auto name = entry.substr(0, entry.find('='));
    if (!spec.environment.contains(std::string(name))) env_storage.emplace_back(entry);
  }
  for (const auto& [name, value] : spec.environment) env_storage.push_back(name + "=" + value);
  std::vector<char*> envp;
  for (auto& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);

  int log_fd = open(spec.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) throw_errno("cannot open log file " + spec.log_file.string());
  if (spec.run_as && fchown(log_fd, spec.run_as->uid, spec.run_as->gid) != 0) {
    close(log_fd);
    throw_errno("cannot hand log file " + spec.log_file.string() + " to " + spec.run_as->name);
  }
  int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  int report[2];
  if (null_fd < 0 || pipe2(report, O_CLOEXEC) != 0) {
    close(log_fd);
    if (null_fd >= 0) close(null_fd);
    throw_errno("cannot prepare to start " + program);
  }

  const pid_t parent = getpid();
  // vfork when the child keeps our credentials: the child borrows our
  // memory until it execs instead of copying our page tables, which for a
  // controller holding a run's history costs milliseconds per worker. A
  // child that changes user must fork: glibc's setuid reaches every thread
  // of the process it believes it is, which after vfork would be ours.
  const pid_t pid = spec.run_as ? fork() : vfork();
  if (pid < 0) {
    close(log_fd);
    close(null_fd);
    close(report[0]);
    close(report[1]);
    throw_errno("cannot fork to start " + program);
  }
  if (pid == 0) {
    setpgid(0, 0);
    if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(log_fd, STDOUT_FILENO) < 0 ||
        dup2(log_fd, STDERR_FILENO) < 0) {
      fail_in_child(report[1], kRedirect);
    }
    if (spec.channel_fd >= 0) {
      // dup2 onto itself keeps close-on-exec set, so clear it by hand then.
      const bool moved = spec.channel_fd == kChannelFd
                             ? fcntl(kChannelFd, F_SETFD, 0) == 0
                             : dup2(spec.channel_fd, kChannelFd) == kChannelFd;
      if (!moved) fail_in_child(report[1], kRedirect);
    }
    if (spec.run_as) {
      if (setgroups(0, nullptr) != 0) fail_in_child(report[1], kSetGroups);
      if (setgid(spec.run_as->gid) != 0) fail_in_child(report[1], kSetGid);
      if (setuid(spec.run_as->uid) != 0) fail_in_child(report[1], kSetUid);
    }
    // After the credential change: changing credentials clears the death signal.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) fail_in_child(report[1], kParentGone);
    // The harness ignores SIGPIPE and blocks stop signals in places; a child
    // must start with default dispositions and an empty mask.
    for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD}) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    if (chdir(workdir.c_str()) != 0) fail_in_child(report[1], kChdir);
    execve(program.c_str(), argv.data(), envp.data());
    fail_in_child(report[1], kExec);
  }

  setpgid(pid, pid);  // also in the parent: whichever runs first wins the race
  close(log_fd);
  close(null_fd);
  close(report[1]);
  ChildFailure failure{};
  ssize_t n;
  do {
    n = read(report[0], &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  close(report[0]);
  ChildProcess child(pid, spec.program.filename().string());
  if (n == static_cast<ssize_t>(sizeof failure)) {
    child.reap(0);
    throw EnvironmentError(
        fmt::format("cannot {} {}: {}", step_name(failure.step), program,
                    failure.step == kExec && failure.error == ENOENT
                        ? "no such file (is the package installed? run ci/quake setup)"
                        : std::strerror(failure.error)));
  }
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(other.pid_),
      name_(std::move(other.name_)),
      status_(other.status_),
      left_behind_(other.left_behind_) {
  other.pid_ = -1;
}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    if (pid_ > 0 && !status_) stop(SIGKILL, std::chrono::milliseconds(0));
    pid_ = other.pid_;
    name_ = std::move(other.name_);
    status_ = other.status_;
    left_behind_ = other.left_behind_;
    other.pid_ = -1;
  }
  return *this;
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && !status_) stop(SIGKILL, std::chrono::milliseconds(0));
}

bool ChildProcess::reap(int options) {
  if (status_) return true;
  int status = 0;
  pid_t r;
  do {
    r = waitpid(pid_, &status, options);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = status;
    return true;
  }
  return false;
}

bool ChildProcess::running() {
  return pid_ > 0 && !reap(WNOHANG);
}

std::string ChildProcess::describe_exit() const {
  if (!status_) return "still running";
  if (WIFEXITED(*status_)) return fmt::format("exited with status {}", WEXITSTATUS(*status_));
  if (WIFSIGNALED(*status_)) return fmt::format("killed by signal {}", WTERMSIG(*status_));
  return "ended";
}

bool ChildProcess::leader_exited() const {
  siginfo_t info{};
  return waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == pid_;
}

bool ChildProcess::wait_for_exit(std::chrono::milliseconds grace) {
  if (pid_ <= 0 || status_) return true;
  const auto deadline = std::chrono::steady_clock::now() + grace;
  while (!leader_exited()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void ChildProcess::stop(int signal, std::chrono::milliseconds grace) {
  if (pid_ <= 0 || status_) return;
  // Stragglers count only when the leader went by itself: what the harness
  // kills, it kills whole, and a kill that reaches the leader first would
  // otherwise leave its children to be counted.
  const bool exited_by_itself = leader_exited();
  if (!exited_by_itself) {
    kill(pid_, signal);
    if (signal == SIGKILL) kill(-pid_, SIGKILL);
  }
  // Wait for the leader to exit without reaping it: while it is an unreaped
  // zombie its pid, and so its process group id, cannot be reused, so the
  // group kill below can only reach processes this child started.
  const auto deadline = std::chrono::steady_clock::now() + grace;
  siginfo_t info{};
  for (;;) {
    info.si_pid = 0;
    int r = waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    if (r == 0 && info.si_pid == pid_) break;
    if (r != 0 && errno != EINTR) break;  // ECHILD: nothing left to wait for
    if (std::chrono::steady_clock::now() >= deadline) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  if (exited_by_itself) left_behind_ = count_group_members(pid_);
  kill(-pid_, SIGKILL);
  reap(0);
}

std::optional<std::uint64_t> process_start_time(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/stat", pid));
  std::string stat;
  if (!in || !std::getline(in, stat)) return std::nullopt;
  // The command name (field 2) may contain spaces and parentheses: parse
  // from the last ')'.
  auto close = stat.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream fields(stat.substr(close + 2));
  std::string field;
  // Fields 3..21 precede the start time (field 22).
  for (int i = 3; i <= 21; ++i) fields >> field;
  std::uint64_t start = 0;
  if (!(fields >> start)) return std::nullopt;
  return start;
}

}  // namespace orgquake::services
