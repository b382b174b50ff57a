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
// `a -> b -> c` is the pairs a -> b and b -> c. A step may name one
// operation's firing, `failpoint@op`:
//
//   interleaving = "migrate.after_stripe_customer_create@3 -> migrate.after_journal@5"
//
// holds operation 5 at migrate.after_journal until operation 3 has fired
// migrate.after_stripe_customer_create (or finished without it); other
// operations' firings of either point are not held. `orgquake shrink`
// writes such pairs: the order of a failing replay's steps that its failure
// needs (docs/shrinking.md).

#include <cstdint>
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

/// One step of a pair: a failpoint, and the operation whose firing it is
/// (none: any operation's).
struct InterleavingStep {
  std::string failpoint;
  std::optional<std::int64_t> op;
};

/// "failpoint" or "failpoint@op"; throws UsageError for a bad operation id.
InterleavingStep parse_step(std::string_view text);

/// Parses an interleaving; "" is none. Throws UsageError naming what was
/// wrong: an unknown failpoint (with the nearest known name), an empty
/// step, a pair of a failpoint with itself, or a cycle (which no run could
/// ever satisfy).
std::vector<HappensBefore> parse_interleaving(std::string_view text);

/// parse_interleaving's complaint, or nullopt when `text` is acceptable.
std::optional<std::string> check_interleaving(std::string_view text);

}  // namespace orgquake::engine
