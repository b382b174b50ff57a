#pragma once

// Suites: TOML specs (scenarios/specs/*.toml) naming which scenarios run,
// how many trials each, the fixture world's size and the options.
//
//   description = "The gate: every scenario, a few seeds"
//   users = 200              # fixture world size
//   trials = 2               # trials per scenario
//   seed = 1                 # optional: the run's seed when --seed is not given
//   migrator = "reference"   # optional: when --migrator is not given
//   [migrators.NAME]         # optional: external migrators (docs/worker-protocol.md)
//   invariants = ["..."]     # optional: default every invariant
//   [options]                # every scenario of the suite
//   workers = 4
//   [scenarios.lock_holder_pause]   # runs this scenario; its own overrides
//   pause_ms = 1500
//   [[scenarios.lock_holder_pause.faults]]   # optional: faults stacked beside it
//   kind = "redis_outage"
//   at_ms = 40
//   lasting_ms = 300
//   [scenarios.lock_holder_pause.replay]     # optional: one trial replayed, reduced
//   seed = "1553620364248256845"   # the trial's seed (a string: seeds pass TOML's integers)
//   faults = [0, 2]        # only these entries of the fault plan act (default: all)
//   operations = [0, 1]    # only these operations of the run phase run (default: all)
//
// `orgquake shrink` writes specs with a replay table (docs/shrinking.md).
//
// Unknown keys, unknown scenario/invariant/migrator names and values of the
// wrong type are errors that name the file, the key and what exists.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/migrator_catalog.hpp"
#include "engine/trial_replay.hpp"

namespace orgquake::engine {

struct ScenarioEntry {
  std::string scenario;
  nlohmann::json overrides = nlohmann::json::object();  ///< [scenarios.NAME]
  /// [[scenarios.NAME.faults]]: faults stacked beside the scenario
  /// (faults/stacked_faults.hpp), fired on the fault clock.
  nlohmann::json faults = nlohmann::json::array();
  /// [scenarios.NAME.replay]: every trial of the entry replays this one.
  std::optional<TrialReplay> replay;
};

struct SuiteSpec {
  std::string name;    ///< the suite's name, or the spec file's stem
  std::string source;  ///< "suite ci" or the file's path, for messages
  std::string description;
  int users = 200;
  int trials = 1;
  std::optional<std::uint64_t> seed;
  std::optional<std::string> migrator;
  /// [migrators.NAME]: external migrators this spec declares, working
  /// directories made absolute against the spec file's folder.
  std::vector<MigratorDeclaration> migrators;
  std::vector<std::string> invariants;                ///< empty: every invariant
  nlohmann::json options = nlohmann::json::object();  ///< [options]
  std::vector<ScenarioEntry> scenarios;               ///< in the order the file lists them

  nlohmann::json to_json() const;
  /// Throws UsageError (exit 2) on anything that from_json cannot take.
  static SuiteSpec from_json(const nlohmann::json& json);
};

/// Parses TOML text; `source` names it in errors. Throws UsageError.
/// Relative paths in it (a migrator's working directory) are taken from `base_dir`.
SuiteSpec parse_suite_spec(std::string_view toml_text, std::string source, std::string name,
                           const std::filesystem::path& base_dir = std::filesystem::current_path());
/// Reads and parses a spec file. Throws UsageError.
SuiteSpec load_spec_file(const std::filesystem::path& path);
/// One of the built-in suites (compiled in from scenarios/specs/). Throws
/// UsageError naming the suites that exist.
SuiteSpec load_suite(std::string_view name);
/// Names of the built-in suites.
std::vector<std::string> suite_names();

}  // namespace orgquake::engine
