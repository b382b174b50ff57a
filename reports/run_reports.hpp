#pragma once

// The four files of a run directory, written so that a reader never sees a
// half-written one.

#include <filesystem>

#include "results/run_result.hpp"

namespace orgquake::reports {

struct ReportFiles {
  std::filesystem::path results_json;
  std::filesystem::path junit_xml;
  std::filesystem::path history_jsonl;
  std::filesystem::path report_html;
};

/// Creates `dir` (and its parents) and writes results.json, junit.xml,
/// history.jsonl and report.html into it. Each file is written to a
/// temporary name in `dir`, flushed to disk and renamed into place, so a
/// file is either whole or absent; results.json goes last, so its presence
/// means the other three are complete. Files of an earlier run are replaced.
/// Throws EnvironmentError (core/error.hpp) naming the path and the
/// system's reason when the directory or a file cannot be written.
ReportFiles write_run_reports(const results::RunResult& run, const std::filesystem::path& dir);

}  // namespace orgquake::reports
