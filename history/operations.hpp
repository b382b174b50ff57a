#pragma once

// Reading a history, for every part that does (invariants, the run's
// statistics, the report): its operations with their invoke and completion
// paired, the fields of an event's value read without throwing, and
// durations written for people.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "history/history.hpp"

namespace orgquake::history {

/// One operation: its invoke and its completion (ok, fail or info).
struct Operation {
  const Event* invoke = nullptr;
  const Event* completion = nullptr;
  bool ok() const { return completion != nullptr && completion->type == EventType::ok; }
  /// The invoke, or the completion of an operation whose invoke is missing.
  const Event& first() const { return invoke != nullptr ? *invoke : *completion; }
};

/// Every operation of `history`, in the order of its first event (invoke
/// order for a well-formed history), paired in one pass. Events without an
/// operation id (op < 0) belong to no operation.
std::vector<Operation> operations_of(const History& history);

/// The greatest number of operations of `kind` in flight at once (invoke
/// seen, completion not yet) in a finished (time-ordered) history: the
/// overlap that proves a race really happened.
int max_in_flight(const History& history, std::string_view kind);

/// The greatest number of operations of `kind` on one user in flight at
/// once, over all users, by the events' times: any history, finished or
/// still being written (an operation not completed yet counts as in flight
/// to the end). A duplicate-lookup race that really raced has 2 or more.
int max_in_flight_for_one_user(const History& history, std::string_view kind);

/// {"invoke": ..., "completion": ...}, null where missing: evidence data.
nlohmann::json to_json(const Operation& op);

/// A string member of an event's value, or "": the engine's values are
/// JSON, and a check must not throw on a malformed one.
std::string string_field(const nlohmann::json& value, const char* key);

/// A rollout event in words: "flag 50 % + 2 allow-listed (version 3)",
/// "database backed up", "database restored from the backup; compensation:
/// by the migrator (compensate)".
std::string describe_rollout(const Event& event);

/// "3.2 s", "0.15 s", "1.004 s": milliseconds only where they matter.
std::string seconds(std::int64_t ns);

}  // namespace orgquake::history
