#pragma once

// What the invariants that judge a trial's history share: its operations
// with their invoke and completion paired, the fields of an event's value
// read without throwing, durations written for people, and evidence capped
// so that a broken run of 10k operations still makes a readable report.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/history/history.hpp"
#include "invariants/verdict.hpp"

namespace orgquake::invariants {

/// One operation: its invoke and its completion (ok, fail or info).
struct Operation {
  const history::Event* invoke = nullptr;
  const history::Event* completion = nullptr;
  bool ok() const { return completion != nullptr && completion->type == history::EventType::ok; }
  /// The invoke, or the completion of an operation whose invoke is missing.
  const history::Event& first() const { return invoke != nullptr ? *invoke : *completion; }
};

/// Every operation of `history`, in the order of its first event (invoke
/// order for a well-formed history), paired in one pass: History's own
/// completion_of() scans the whole history on every call.
std::vector<Operation> operations_of(const history::History& history);

/// {"invoke": ..., "completion": ...}, null where missing: evidence data.
nlohmann::json to_json(const Operation& op);

/// A string member of an event's value, or "": the engine's values are
/// JSON, and a check must not throw on a malformed one.
std::string string_field(const nlohmann::json& value, const char* key);

/// "3.2 s", "0.15 s", "1.004 s": milliseconds only where they matter.
std::string seconds(std::int64_t ns);

/// A VerdictBuilder that keeps the first `limit` violations as evidence and
/// counts the rest, in the summary and in a last entry.
class CappedVerdict {
 public:
  explicit CappedVerdict(std::string rule, int limit = 20);
  void violation(std::string what, nlohmann::json data);
  int found() const { return found_; }
  Verdict finish(const std::string& checked) const;

 private:
  std::string rule_;
  VerdictBuilder builder_;
  int limit_;
  int found_ = 0;
};

}  // namespace orgquake::invariants
