#pragma once

// Faults a suite spec stacks beside a scenario, as FoundationDB's test specs
// stack workloads: each fires as its timing says whatever the scenario does.
//
//   [[scenarios.concurrent_duplicate_lookups.faults]]
//   kind = "redis_outage"
//   at_ms = 40           # after the run phase's first clients start (default 0)
//   lasting_ms = 300     # healed this much later (default: in the heal phase)
//   # or, instead of at_ms: at_operation = 12   # when operation 12 is invoked
//   # or at a step of it:     at_operation = 12, at_failpoint = "migrate.before_commit", hit = 1
//   #   (when operation 12 reaches that failpoint the hit-th time, default 1,
//   #   while its worker waits there: a backend_kill there kills the
//   #   operation's own connection inside its transaction)
//
//   [[scenarios.concurrent_duplicate_lookups.faults]]
//   kind = "http_fault"
//   service = "litellm"
//   http = { method = "POST", path = "/key/update", kind = "apply_then_500", probability = 0.3 }
//
// Kinds: http_fault, stripe_search_lag (lag_ms), redis_outage, backend_kill.
// Faults aimed at a worker at a failpoint (crash, pause) need a scenario to
// gate the failpoint and are not stackable.

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults/fault.hpp"

namespace orgquake::faults {

/// The kinds a spec can stack, in the order they are documented.
const std::vector<std::string>& stackable_kinds();

/// The fault one spec table describes. Throws UsageError naming `where`
/// ("suite ci: scenarios.X.faults[2]") and the field that is wrong.
std::unique_ptr<Fault> stacked_fault(const nlohmann::json& table, const std::string& where);

/// Checks a whole list without keeping it: the message of the first
/// problem, or "" when every table makes a fault.
std::string check_stacked_faults(const nlohmann::json& tables, const std::string& where);

}  // namespace orgquake::faults
