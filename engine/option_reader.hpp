#pragma once

// Reading a scenario's options into its own struct, in one place. The reads
// are the declaration: a scenario's `read` names each option it uses with its
// default, range and description, and returns its settings struct. Run with
// no values (declaring), the reader collects the specs and returns defaults:
// that list is what the scenario declares (`orgquake list`, the suite
// spec's checks). Run with a trial's resolved values (reading), it returns
// them, typed. So an option a scenario declares is an option it reads, and
// a key that nobody reads is refused when the spec is loaded.
//
//   struct Settings { int users, workers, rounds; };
//   Settings read(engine::OptionReader& o) const override {
//     return {o.common_count("users"), o.common_count("workers"),
//             o.count("rounds", 2, 1, 100, "times each client goes through the users")};
//   }
//
// Read every option on every call, unconditionally: a read that depends on
// another option's value would declare different options than it reads.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "engine/options.hpp"

namespace orgquake::engine {

class OptionReader {
 public:
  /// Declaring: every read returns its default and is collected.
  OptionReader() = default;
  /// Reading a trial's values (resolve_options gave each declared option one).
  explicit OptionReader(const Options& values) : values_(&values) {}

  std::int64_t integer(std::string name, std::int64_t default_value, std::int64_t min,
                       std::int64_t max, std::string description);
  /// An integer that fits an int: a number of things.
  int count(std::string name, int default_value, int min, int max, std::string description);
  /// Milliseconds, for an option whose name ends in `_ms`.
  std::chrono::milliseconds duration(std::string name, std::int64_t default_ms, std::int64_t min_ms,
                                     std::int64_t max_ms, std::string description);
  double number(std::string name, double default_value, double min, double max,
                std::string description);
  bool flag(std::string name, bool default_value, std::string description);
  /// One of `choices`.
  std::string choice(std::string name, std::string default_value, std::vector<std::string> choices,
                     std::string description);
  /// Any option spec, for what the typed reads above do not cover (a string
  /// with its own check).
  const nlohmann::json& custom(OptionSpec spec);

  /// One of the common options (common_options(): workers, clients, users),
  /// which this scenario reads: only a scenario that reads one declares it.
  int common_count(std::string_view name);

  /// What was read, in read order (declaring mode).
  std::vector<OptionSpec> declared() && { return std::move(declared_); }

 private:
  /// Declares `spec` (once per name) and returns its value.
  const nlohmann::json& take(OptionSpec spec);

  const Options* values_ = nullptr;
  std::vector<OptionSpec> declared_;
};

/// What the engine itself reads for every trial, whatever its scenario:
/// the migrator's locking and loading, the phases' bounds, the interleaving.
/// Read once, when the trial starts.
struct TrialSettings {
  std::string strategy;  ///< eager-loading strategy of lookups
  bool fast_path = true;
  std::chrono::milliseconds lock_ttl{}, lock_max_wait{}, recovery_bound{}, liveness_bound{},
      run_timeout{};
  std::string interleaving;

  static TrialSettings read(OptionReader& options);
};

/// The options of TrialSettings: every scenario has them.
const std::vector<OptionSpec>& trial_options();

}  // namespace orgquake::engine
