#include "reports/atomic_file.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::reports {
namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const std::string& what, int err) {
  throw EnvironmentError(
      fmt::format("{}: {}; choose another output directory (--out)", what, std::strerror(err)));
}

// Closes a descriptor and removes the temporary file unless released.
class TemporaryFile {
 public:
  explicit TemporaryFile(const fs::path& dir, std::string_view name) {
    path_ = (dir / fmt::format(".{}.tmp.XXXXXX", name)).string();
    fd_ = ::mkstemp(path_.data());
    if (fd_ < 0) fail(fmt::format("cannot create a file in {}", dir.string()), errno);
    // mkstemp makes the file private (0600); a report is for whoever may read
    // the directory, as any file written with the usual umask.
    ::fchmod(fd_, 0644);
  }
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!path_.empty()) ::unlink(path_.c_str());
  }

  void write_all(std::string_view content) {
    while (!content.empty()) {
      const ssize_t written = ::write(fd_, content.data(), content.size());
      if (written < 0 && errno == EINTR) continue;
      if (written < 0) fail(fmt::format("cannot write {}", path_), errno);
      content.remove_prefix(static_cast<std::size_t>(written));
    }
  }

  // Flushes to disk and renames over `target`: readers see the old file or
  // the whole new one, even across a power cut.
  void commit(const fs::path& target) {
    if (::fsync(fd_) != 0) fail(fmt::format("cannot flush {}", path_), errno);
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) fail(fmt::format("cannot close {}", path_), errno);
    if (::rename(path_.c_str(), target.c_str()) != 0) {
      fail(fmt::format("cannot rename {} to {}", path_, target.string()), errno);
    }
    path_.clear();
  }

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

void write_file_atomically(const fs::path& target, std::string_view content) {
  TemporaryFile file(target.parent_path(), target.filename().string());
  file.write_all(content);
  file.commit(target);
}

}  // namespace orgquake::reports
