#include "reports/run_reports.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sstream>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <system_error>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "reports/atomic_file.hpp"
#include "reports/history_jsonl.hpp"
#include "reports/junit_xml.hpp"
#include "reports/report_html.hpp"
#include "reports/results_json.hpp"

namespace orgquake::reports {
namespace {

namespace fs = std::filesystem;

// Makes the renames themselves durable.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;  // durability is best effort here; the files are complete
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

ReportFiles write_run_reports(const results::RunResult& run, const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    throw EnvironmentError(fmt::format(
        "cannot create the report directory {}: {}; choose another output directory (--out)",
        dir.string(), error.message()));
  }
  if (!fs::is_directory(dir, error)) {
    throw EnvironmentError(fmt::format(
        "the report directory {} is not a directory; choose another output directory (--out)",
        dir.string()));
  }

  const ReportFiles files{dir / "results.json", dir / "junit.xml", dir / "history.jsonl",
                          dir / "report.html"};
  // Every file is rendered before its temporary is created, so a renderer's
  // exception leaves nothing behind.
  {
    std::ostringstream history;
    write_history_jsonl(run, history);
    write_file_atomically(files.history_jsonl, history.view());
  }
  write_file_atomically(files.junit_xml, junit_xml(run));
  write_file_atomically(files.report_html, report_html(run));
  write_file_atomically(files.results_json, dump_report_json(results_json(run), 2) + "\n");
  sync_directory(dir);
  return files;
}

}  // namespace orgquake::reports
