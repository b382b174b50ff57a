#pragma once

// Reading a run directory back: results.json and history.jsonl, as
// write_run_reports left them, into the results model. `orgquake merge`
// joins shards from it.

#include <filesystem>

#include "results/run_result.hpp"

namespace orgquake::reports {

/// The run in `dir`, each trial with its history. Throws UsageError, one line
/// naming the file and what is wrong, for a directory that is not a whole
/// run (no results.json, a file that does not parse, a history line of a
/// trial the results do not list).
results::RunResult read_run_directory(const std::filesystem::path& dir);

}  // namespace orgquake::reports
