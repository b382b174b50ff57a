#include "services/run_directory.hpp"

#include <atomic>
#include <cstdlib>
#include <fstream>
#include <linux/magic.h>
#include <signal.h>
#include <sstream>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"

namespace fs = std::filesystem;

namespace orgquake::services {
namespace {

constexpr const char* kChildrenFile = "children";

struct OwnerTag {
  pid_t pid;
  std::uint64_t start_time;
};

// Parses "<prefix>-<pid>-<start>" (the prefix may itself contain dashes).
std::optional<OwnerTag> parse_owner_tag(const std::string& name) {
  auto last = name.rfind('-');
  if (last == std::string::npos || last == 0) return std::nullopt;
  auto prev = name.rfind('-', last - 1);
  if (prev == std::string::npos) return std::nullopt;
  try {
    return OwnerTag{static_cast<pid_t>(std::stol(name.substr(prev + 1, last - prev - 1))),
                    std::stoull(name.substr(last + 1))};
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

bool is_alive(const OwnerTag& tag) {
  auto start = process_start_time(tag.pid);
  return start && *start == tag.start_time;
}

// A postmaster killed with SIGKILL leaves its small System V segment behind.
// postmaster.pid records its key and id (line 7); remove it once unattached.
void release_postgres_shared_memory(const fs::path& run) {
  std::error_code ec;
  for (const auto& entry : fs::recursive_directory_iterator(run, ec)) {
    if (entry.path().filename() != "postmaster.pid") continue;
    std::ifstream in(entry.path());
    std::string line;
    for (int i = 1; i <= 7 && std::getline(in, line); ++i) {
      if (i != 7) continue;
      std::istringstream fields(line);
      long long key = 0;
      int shmid = -1;
      if (!(fields >> key >> shmid) || shmid < 0) break;
      struct shmid_ds info {};
      if (shmctl(shmid, IPC_STAT, &info) == 0 && info.shm_perm.__key == key &&
          info.shm_nattch == 0) {
        shmctl(shmid, IPC_RMID, nullptr);
      }
    }
  }
}

}  // namespace

fs::path runtime_root() {
  if (const char* dir = std::getenv("ORGQUAKE_RUNTIME_DIR"); dir && *dir) return dir;
  // Data directories are thrown away after the run: memory-backed /dev/shm
  // spares the disk (on a VM, disk writeback made every run slower than the last).
  struct statfs info {};
  if (statfs("/dev/shm", &info) == 0 && info.f_type == TMPFS_MAGIC &&
      access("/dev/shm", W_OK) == 0) {
    return fs::path("/dev/shm") / fmt::format("orgquake-{}", geteuid());
  }
  return fs::temp_directory_path() / fmt::format("orgquake-{}", geteuid());
}

fs::path cache_root() {
  if (const char* dir = std::getenv("ORGQUAKE_CACHE_DIR"); dir && *dir) return dir;
  if (geteuid() == 0) return "/var/cache/orgquake";
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    return fs::path(xdg) / "orgquake";
  if (const char* home = std::getenv("HOME"); home && *home) {
    return fs::path(home) / ".cache" / "orgquake";
  }
  return runtime_root() / "cache";
}

void ensure_private_directory(const fs::path& dir, mode_t mode) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  struct stat info {};
  if (lstat(dir.c_str(), &info) != 0) throw_errno("cannot create directory " + dir.string());
  if (!S_ISDIR(info.st_mode)) {
    throw EnvironmentError(
        fmt::format("{} is not a directory; remove it or set another location", dir.string()));
  }
  if (info.st_uid != geteuid()) {
    throw EnvironmentError(
        fmt::format("{} belongs to uid {}, not to us; remove it or set ORGQUAKE_RUNTIME_DIR / "
                    "ORGQUAKE_CACHE_DIR elsewhere",
                    dir.string(), info.st_uid));
  }
  if ((info.st_mode & 07777) != mode && chmod(dir.c_str(), mode) != 0) {
    throw_errno("cannot set the mode of " + dir.string());
  }
}

std::string self_owner_tag() {
  return fmt::format("{}-{}", getpid(), process_start_time(getpid()).value_or(0));
}

bool owner_alive(const std::string& directory_name) {
  auto tag = parse_owner_tag(directory_name);
  return tag && is_alive(*tag);
}

int remove_stale_runs(const fs::path& root) {
  int left = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("run-", 0) != 0 || owner_alive(name)) continue;
    // Children normally died with their parent (death signal); this is the
    // belt to those braces, by recorded pid and start time, never by name.
    std::ifstream children(entry.path() / kChildrenFile);
    OwnerTag child{};
    while (children >> child.pid >> child.start_time) {
      if (is_alive(child)) {
        kill(-child.pid, SIGKILL);
        kill(child.pid, SIGKILL);
      }
    }
    release_postgres_shared_memory(entry.path());
    std::error_code removal;
    fs::remove_all(entry.path(), removal);
    if (removal || fs::exists(entry.path(), removal)) ++left;
  }
  return left;
}

RunDirectory RunDirectory::create() {
  const fs::path root = runtime_root();
  // 0755: when we run as root the postgres account must traverse it.
  ensure_private_directory(root, 0755);
  remove_stale_runs(root);
  // One process may run several (a test's shared servers and its own): the
  // sequence number keeps their directories apart, while the owner tag stays
  // last, where owner_alive() reads it.
  static std::atomic<int> sequence{0};
  fs::path path = root / fmt::format("run-{}-{}", ++sequence, self_owner_tag());
  if (mkdir(path.c_str(), 0755) != 0) throw_errno("cannot create run directory " + path.string());
  return RunDirectory(std::move(path));
}

RunDirectory::~RunDirectory() {
  if (path_.empty()) return;
  std::error_code ec;
  fs::remove_all(path_, ec);
}

fs::path RunDirectory::make_subdirectory(const std::string& name, mode_t mode,
                                         const std::optional<Account>& owner) const {
  fs::path dir = path_ / name;
  if (mkdir(dir.c_str(), mode) != 0) throw_errno("cannot create " + dir.string());
  if (owner && chown(dir.c_str(), owner->uid, owner->gid) != 0) {
    throw_errno("cannot hand " + dir.string() + " to " + owner->name);
  }
  if (chmod(dir.c_str(), mode) != 0) throw_errno("cannot set the mode of " + dir.string());
  return dir;
}

void RunDirectory::record_child(pid_t pid) const {
  std::ofstream out(path_ / kChildrenFile, std::ios::app);
  out << pid << ' ' << process_start_time(pid).value_or(0) << '\n';
}

}  // namespace orgquake::services
