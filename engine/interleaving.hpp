#pragma once

// A named interleaving: happens-before pairs between failpoints that the
// controller enforces across worker processes, as RocksDB's sync points
// (LoadDependency) do inside one process. A suite spec names one with the
// `interleaving` option:
//
//   interleaving = "lookup.after_lock_acquire -> migrate.after_journal; lock.before_release ->
//   lookup.after_load"
//
// `a -> b` holds every firing of b until a has fired once; a chain
// `a -> b -> c` is the pairs a -> b and b -> c.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orgquake::engine {

struct HappensBefore {
  std::string before;
  std::string after;
  bool operator==(const HappensBefore&) const = default;
};

/// Parses an interleaving; "" is none. Throws UsageError naming what was
/// wrong: an unknown failpoint (with the nearest known name), an empty
/// step, a pair of a failpoint with itself, or a cycle (which no run could
/// ever satisfy).
std::vector<HappensBefore> parse_interleaving(std::string_view text);

/// parse_interleaving's complaint, or nullopt when `text` is acceptable.
std::optional<std::string> check_interleaving(std::string_view text);

}  // namespace orgquake::engine
