// A lock whose holder was killed or paused must not block its user for good:
// the lease expires after its TTL and the next request takes it. So after
// each fault that hit a lock holder, the user is served again (an operation
// invoked after the fault completes ok) within TTL plus a recovery bound.
// Catches locks without a TTL, waits that never give up, and a recovery path
// that needs the dead holder's cooperation.
//
// Symptom codes (results::Evidence::symptom):
//   served_too_late  after a fault hit its lock holder, the user was served again, but past
//                    max(fault + TTL, first request still waiting then) + the recovery bound
//   never_served     after a fault hit its lock holder, no operation invoked since succeeded,
//                    and the history runs past the recovery bound
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include <fmt/format.h>

#include "history/operations.hpp"
#include "invariants/capped_verdict.hpp"
#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

using history::Event;
using history::EventType;
using history::Operation;
using history::operations_of;
using history::seconds;
using history::string_field;

std::optional<std::int64_t> milliseconds_as_ns(const nlohmann::json& value, const char* key) {
  const auto it = value.find(key);
  if (it == value.end() || !it->is_number()) return std::nullopt;
  return std::llround(it->get<double>() * 1e6);
}

std::string what_happened_to_holder(const Event& fault) {
  if (fault.kind == "crash") return "was killed";
  if (fault.kind == "pause") return "was paused";
  return "was hit by " + (fault.kind.empty() ? std::string("a fault") : fault.kind);
}

std::string where(const Event& event) {
  return fmt::format("worker {}, client {}", event.worker, event.client);
}

class LockExpiryRecovery final : public Invariant {
 public:
  std::string_view name() const override { return "lock_expiry_recovery"; }
  std::string_view description() const override {
    return "a user whose lock holder died or stalled is served again within TTL plus a bound";
  }

  Verdict check(const ObservedWorld& world) const override {
    if (world.history == nullptr)
      return Verdict::unknown("lock expiry recovery: no history recorded");
    const auto& history = *world.history;
    const auto ops = operations_of(history);
    std::unordered_map<std::string, std::vector<const Operation*>> by_user;
    for (const auto& op : ops) {
      if (op.invoke != nullptr && !op.invoke->user.empty()) by_user[op.invoke->user].push_back(&op);
    }
    const std::int64_t history_end = history.empty() ? 0 : history.events().back().time_ns;

    CappedVerdict verdict("lock expiry recovery");
    int holders = 0;
    std::vector<std::string> undecided;
    for (const auto& fault : history.events()) {
      if (fault.type != EventType::fault) continue;
      const auto holder = fault.value.find("holds_lock_of");
      if (holder == fault.value.end() || !holder->is_string() || holder->empty()) continue;
      ++holders;
      const auto user = holder->get<std::string>();
      const auto happened = what_happened_to_holder(fault);
      const auto ttl = milliseconds_as_ns(fault.value, "ttl_ms");
      const auto recovery = milliseconds_as_ns(fault.value, "recovery_bound_ms");
      if (!ttl || !recovery) {
        undecided.push_back(
            fmt::format("the fault at {} on user {}'s lock holder names no ttl_ms "
                        "or recovery_bound_ms",
                        seconds(fault.time_ns), user));
        continue;
      }
      const std::int64_t bound = *ttl + *recovery;

      // Served again = the earliest ok completion of an operation invoked
      // after the fault. Operations invoked before it do not count: one of
      // them may be the paused holder's own, which proves nothing.
      std::vector<const Operation*> since;
      const Operation* served = nullptr;
      for (const auto* op : by_user[user]) {
        if (op->invoke->time_ns < fault.time_ns) continue;
        since.push_back(op);
        if (op->ok() &&
            (served == nullptr || op->completion->time_ns < served->completion->time_ns))
          served = op;
      }
      // The lease may block the user until the TTL has run out. From then,
      // or from the first request still waiting after it if that came later
      // (a scenario may keep quiet past the TTL on purpose, and a loaded
      // machine may be slow to send its next request), the user must be
      // served within the recovery bound. A request that gave up before the
      // TTL ran out saw a live lease, which proves nothing either way.
      const std::int64_t expired = fault.time_ns + *ttl;
      std::optional<std::int64_t> asked;
      for (const auto* op : since) {
        if (op->completion != nullptr && op->completion->time_ns < expired) continue;
        const auto waiting_from = std::max(op->invoke->time_ns, expired);
        if (!asked || waiting_from < *asked) asked = waiting_from;
      }
      const std::int64_t deadline = asked.value_or(expired) + *recovery;
      if (served != nullptr && served->completion->time_ns <= deadline) continue;

      nlohmann::json data = {{"user", user},
                             {"fault", fault.to_json()},
                             {"ttl_ms", *ttl / 1e6},
                             {"recovery_bound_ms", *recovery / 1e6},
                             {"bound_ms", bound / 1e6}};
      // The operations that did not succeed before the user was served (or
      // at all): what the user saw while the dead lease blocked it.
      std::vector<const Operation*> unserved;
      for (const auto* op : since) {
        if (op->ok()) continue;
        if (served == nullptr || op->invoke->time_ns < served->completion->time_ns)
          unserved.push_back(op);
      }
      auto failed_json = nlohmann::json::array();
      for (std::size_t i = 0; i < unserved.size() && i < max_ops_per_evidence; ++i)
        failed_json.push_back(to_json(*unserved[i]));
      data["failed"] = failed_json;
      data["failed_count"] = unserved.size();

      if (served != nullptr) {
        const auto waited = served->completion->time_ns - fault.time_ns;
        data["served_by"] = to_json(*served);
        data["waited_ms"] = waited / 1e6;
        verdict.violation(
            "served_too_late",
            fmt::format(
                "user {} waited {} after its lock holder {} at {}; bound {} (TTL {} + {}): "
                "first served by op {} ({}) at {}, after {} operation{} that did not succeed",
                user, seconds(waited), happened, seconds(fault.time_ns), seconds(bound),
                seconds(*ttl), seconds(*recovery), served->invoke->op, where(*served->completion),
                seconds(served->completion->time_ns), unserved.size(),
                unserved.size() == 1 ? "" : "s"),
            std::move(data));
      } else if (!asked) {
        undecided.push_back(fmt::format(
            "no operation on user {} was waiting once the TTL of its lock holder, which {} at {}, "
            "ran out",
            user, happened, seconds(fault.time_ns)));
      } else if (history_end < deadline) {
        undecided.push_back(
            fmt::format("the history ends at {}, before user {}'s recovery bound ran out at {}",
                        seconds(history_end), user, seconds(deadline)));
      } else {
        verdict.violation("never_served",
                          fmt::format("user {} was never served again after its lock holder {} at "
                                      "{}: none of the {} operation{} invoked since succeeded{}",
                                      user, happened, seconds(fault.time_ns), since.size(),
                                      since.size() == 1 ? "" : "s", outcome_summary(since)),
                          std::move(data));
      }
    }

    const auto checked =
        fmt::format("{} lock holder{} that died or stalled", holders, holders == 1 ? "" : "s");
    if (verdict.found() > 0) {
      auto result = verdict.finish(checked);
      if (!undecided.empty())
        result.summary += fmt::format("; could not decide for {} more", undecided.size());
      return result;
    }
    if (!undecided.empty()) {
      return Verdict::unknown(fmt::format("lock expiry recovery: could not decide for {} of {}: {}",
                                          undecided.size(), checked, undecided.front()));
    }
    if (holders == 0)
      return Verdict::valid("lock expiry recovery: no lock holder died or stalled in this trial");
    return verdict.finish(checked);
  }

 private:
  // " (2 failed, 1 lost: first error lock_timeout)": what became of the
  // operations, so that the line alone points at the cause.
  static std::string outcome_summary(const std::vector<const Operation*>& ops) {
    int failed = 0, lost = 0, pending = 0;
    std::string first_error;
    for (const auto* op : ops) {
      if (op->completion == nullptr) {
        ++pending;
        continue;
      }
      (op->completion->type == EventType::fail ? failed : lost) += 1;
      if (first_error.empty()) first_error = string_field(op->completion->value, "error");
    }
    std::vector<std::string> parts;
    if (failed > 0) parts.push_back(fmt::format("{} failed", failed));
    if (lost > 0) parts.push_back(fmt::format("{} lost with their worker", lost));
    if (pending > 0) parts.push_back(fmt::format("{} never completed", pending));
    auto text = " (" + fmt::format("{}", fmt::join(parts, ", "));
    if (!first_error.empty()) text += "; first error: " + first_error;
    return text + ")";
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(LockExpiryRecovery);
}  // namespace orgquake::invariants
