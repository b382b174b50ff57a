#pragma once

// The controller's top level: start the services, build the fixture world
// and its template database once, then run each trial of the suite (run,
// heal, liveness, invariants) and collect the results.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "engine/migrator_catalog.hpp"
#include "engine/suite_spec.hpp"
#include "results/run_result.hpp"
#include "services/services.hpp"

namespace orgquake::engine {

struct RunRequest {
  SuiteSpec spec;
  std::uint64_t seed = 0;
  /// The migrator under test (a built-in one by default).
  MigratorDeclaration migrator = MigratorCatalog::with_built_ins().find("reference");
  /// Only this scenario of the suite (--scenario).
  std::optional<std::string> scenario;
  /// Only the trial with this index (repro); indexes are those of the full suite.
  std::optional<int> trial;
  std::filesystem::path out_dir;
  services::ServicesOptions services;
  /// Print a line per trial, and a progress line while one runs on a terminal.
  bool progress = true;
};

/// Runs the trials; throws UsageError / EnvironmentError for bad input or a
/// broken environment (exit 2), Interrupted on Ctrl-C (everything started is
/// stopped by then).
results::RunResult run_suite(const RunRequest& request);

/// The seed of trial `k` of `scenario` in a run seeded `run_seed`.
std::uint64_t trial_seed(std::uint64_t run_seed, std::string_view scenario, int k);

/// The commit the binary was built from, or "unknown".
std::string git_sha();

}  // namespace orgquake::engine
