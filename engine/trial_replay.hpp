#pragma once

// One trial replayed from its seed with parts of it left out, as a suite
// spec's [scenarios.NAME.replay] table carries it and `orgquake shrink`
// writes it (docs/shrinking.md).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace orgquake::engine {

/// A trial replayed from its seed, with parts of it left out: what
/// `orgquake shrink` reduces and writes. The scenario still makes every
/// choice it makes from the seed (so operation ids and plan entries keep
/// their numbers); the faults not listed are planned but never act, and the
/// operations not listed are never sent to a worker.
struct TrialReplay {
  std::uint64_t seed = 0;
  /// Indexes into the trial's fault plan entries; none: every fault acts.
  std::optional<std::vector<int>> faults;
  /// Operation ids of the run phase; none: every operation runs.
  std::optional<std::vector<std::int64_t>> operations;

  nlohmann::json to_json() const;
  /// Throws UsageError naming `where` and the field that is wrong.
  static TrialReplay from_json(const nlohmann::json& json, const std::string& where);
};

/// A seed as JSON carries it (unsigned), or its decimal digits in a string:
/// TOML integers stop at INT64_MAX, seeds do not. Nothing when it is neither.
std::optional<std::uint64_t> read_seed(const nlohmann::json& value);

}  // namespace orgquake::engine
