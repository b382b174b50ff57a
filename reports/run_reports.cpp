#include "reports/run_reports.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <future>
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
  // Every file is rendered before any is written, so a renderer's exception
  // leaves nothing behind. The two largest, the history and the report, are
  // rendered at once: writing them is the last thing a run does.
  auto history = std::async(std::launch::async, [&run] {
    std::ostringstream out;
    write_history_jsonl(run, out);
    return std::move(out).str();
  });
  const std::string report = report_html(run);
  const std::string junit = junit_xml(run);
  const std::string results = dump_report_json(results_json(run), 2) + "\n";
  write_file_atomically(files.history_jsonl, history.get());
  write_file_atomically(files.junit_xml, junit);
  write_file_atomically(files.report_html, report);
  write_file_atomically(files.results_json, results);
  sync_directory(dir);
  return files;
}

}  // namespace orgquake::reports
