#pragma once

// A finished run as its results.json recorded it: what `orgquake repro` and
// `orgquake shrink` start from (the suite as it ran, the run's seed, the
// migrator's declaration, the trials).

#include <cstdint>
#include <filesystem>
#include <string_view>

#include <nlohmann/json.hpp>

#include "engine/migrator_catalog.hpp"
#include "engine/suite_spec.hpp"

namespace orgquake::engine {

struct RecordedRun {
  std::filesystem::path dir;
  nlohmann::json results;  ///< the whole file; its "trials" as written
  SuiteSpec spec;
  std::uint64_t seed = 0;
  /// The recorded declaration starts the same command; a run from before
  /// declarations were recorded named a built-in migrator.
  MigratorDeclaration migrator;
  /// Whether its clients went through the session pool (RunResult::session_pool).
  bool session_pool = true;
};

/// Reads `dir`/results.json as JSON. Throws UsageError, one line naming the
/// directory, for a missing or unreadable file; `purpose` ("replay",
/// "shrink") words it.
nlohmann::json read_results_file(const std::filesystem::path& dir, std::string_view purpose);

/// What a replay of `results` (read from `dir`) needs: the suite, the seed,
/// the migrator. Read after the caller has found its trial, so that a run
/// with nothing to replay says that first. Throws UsageError for a file that
/// lacks any of them.
RecordedRun recorded_run_of(nlohmann::json results, const std::filesystem::path& dir,
                            std::string_view purpose);

}  // namespace orgquake::engine
