#pragma once

#include <filesystem>
#include <optional>

#include "reports/run_reports.hpp"
#include "results/run_result.hpp"

namespace orgquake::cli {

/// Writes the run's report files into `out_dir` (unless `written` says where
/// they already are), prints the verdict and where the report is, and
/// returns the exit code: 0 valid, 1 invalid, 2 unknown.
int finish_run(const results::RunResult& run, const std::filesystem::path& out_dir,
               const std::optional<reports::ReportFiles>& written = std::nullopt);

}  // namespace orgquake::cli
