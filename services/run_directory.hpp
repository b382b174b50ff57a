#pragma once

#include <filesystem>
#include <optional>
#include <sys/types.h>

#include "services/child_process.hpp"

namespace orgquake::services {

/// Where a harness run keeps its data directories, sockets and logs:
/// $ORGQUAKE_RUNTIME_DIR, else /dev/shm/orgquake-<uid> where /dev/shm is a
/// writable tmpfs, else /tmp/orgquake-<uid>.
std::filesystem::path runtime_root();

/// Where initialized clusters are cached between runs: $ORGQUAKE_CACHE_DIR,
/// else /var/cache/orgquake for root (the postgres account must reach it),
/// else $XDG_CACHE_HOME/orgquake or ~/.cache/orgquake.
std::filesystem::path cache_root();

/// Creates `dir` (and parents) if missing and checks that it is a real
/// directory owned by us, not a symlink planted in a shared /tmp.
void ensure_private_directory(const std::filesystem::path& dir, mode_t mode);

/// The directory of one harness run, named run-<n>-<pid>-<start time> so that
/// a later run can tell whether its owner is still alive.
///
/// Every child the run starts is recorded in it. Destroying it (a normal
/// exit) removes it; after a SIGKILL it stays, and the next create() removes
/// it, first killing any recorded child that somehow survived.
class RunDirectory {
 public:
  /// Removes stale runs under runtime_root(), then creates this one.
  static RunDirectory create();

  RunDirectory(RunDirectory&& other) noexcept : path_(std::move(other.path_)) {
    other.path_.clear();
  }
  RunDirectory& operator=(RunDirectory&&) = delete;
  RunDirectory(const RunDirectory&) = delete;
  ~RunDirectory();

  const std::filesystem::path& path() const { return path_; }

  /// A subdirectory, owned by `owner` when given, with `mode`.
  std::filesystem::path make_subdirectory(const std::string& name, mode_t mode,
                                          const std::optional<Account>& owner = std::nullopt) const;

  /// Records a started child (pid and start time) for stale-run cleanup.
  void record_child(pid_t pid) const;

 private:
  explicit RunDirectory(std::filesystem::path path) : path_(std::move(path)) {}
  std::filesystem::path path_;
};

/// Removes run directories under `root` whose owning harness is gone, killing
/// their recorded children (by recorded pid and start time only) and freeing
/// any System V shared memory a killed postmaster left. Returns how many
/// stale runs are left: a directory a dying server was still writing into
/// (a PostgreSQL backend outlives its killed postmaster by a moment) goes at
/// a later call.
int remove_stale_runs(const std::filesystem::path& root);

/// True if a directory named <prefix>-<pid>-<start time> belongs to a live process.
bool owner_alive(const std::string& directory_name);

/// "<pid>-<start time>" for this process: the suffix that owner_alive() checks.
std::string self_owner_tag();

}  // namespace orgquake::services
