#pragma once

#include <filesystem>

#include "results/run_result.hpp"

namespace orgquake::cli {

/// Writes the run's report files into `out_dir`, prints the verdict and where
/// the report is, and returns the exit code: 0 valid, 1 invalid, 2 unknown.
int finish_run(const results::RunResult& run, const std::filesystem::path& out_dir);

}  // namespace orgquake::cli
