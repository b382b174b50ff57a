#pragma once

// The call site of a failpoint. Migrator code includes this header only:
//
//   ORGQUAKE_FAILPOINT(migrate_after_org_insert);
//
// A disarmed failpoint costs one relaxed atomic load and a branch predicted
// not taken; everything else lives out of line in registry.cpp and runs only
// when the failpoint is armed.

#include <atomic>

#include "migrator/failpoints/catalog.hpp"

namespace orgquake::failpoints {
namespace detail {

/// One flag per failpoint, set while it has a configuration. Relaxed loads
/// suffice: the flag only says "look closer", and fire() reads the
/// configuration under the registry's mutex.
extern std::atomic<bool> armed_flags[failpoint_count];

/// Evaluates an armed failpoint: picks the triggering term, logs and observes
/// the hit, then runs the action (which may throw InjectedError, suspend the
/// calling fiber, or kill the process).
[[gnu::cold, gnu::noinline]] void fire(Failpoint point);

}  // namespace detail

/// Whether `point` currently has a configuration.
inline bool is_armed(Failpoint point) {
  return detail::armed_flags[index_of(point)].load(std::memory_order_relaxed);
}

/// Evaluates `point` here: nothing at all when disarmed.
[[gnu::always_inline]] inline void evaluate(Failpoint point) {
  if (is_armed(point)) [[unlikely]] {
    detail::fire(point);
  }
}

}  // namespace orgquake::failpoints

/// Evaluates the failpoint `identifier` of failpoint_list.hpp (the name with
/// '.' written as '_'); an identifier that is not in the list does not compile.
#define ORGQUAKE_FAILPOINT(identifier) \
  ::orgquake::failpoints::evaluate(::orgquake::failpoints::Failpoint::identifier)
