// No operation waited for a held lock past the bound its plan gave it
// (lock_max_wait_ms on its invoke): a request that queues behind a stalled
// holder for as long as the lease lasts, or for ever, holds its caller's
// thread and connection hostage and turns one slow holder into an outage.
// The wait is read from Redis's record of the client's refused SET ... NX
// attempts on the user's lock, from the first refusal to the grant or the
// last refusal. A worker the harness paused meanwhile could not have given
// up, so its waits are not judged; neither are waits across a stretch the
// lock observer did not see.
//
// Symptom codes (results::Evidence::symptom):
//   lock_wait_unbounded  an operation's refused lock attempts ran past its lock_max_wait_ms
#include <limits>
#include <map>
#include <tuple>

#include <fmt/format.h>

#include "history/lock_leases.hpp"
#include "history/operations.hpp"
#include "invariants/capped_verdict.hpp"
#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

using history::EventType;
using history::LockAttempt;
using history::seconds;

/// Beyond the bound: the retry pause after the last refusal, scheduling,
/// and the lag of MONITOR's timestamps.
constexpr std::int64_t slack_ns = history::redis_clock_skew_ns;

using ClientUser = std::tuple<int, int, std::string>;

/// worker -> the stretches it was stopped (SIGSTOP until SIGCONT or death).
std::map<int, std::vector<std::pair<std::int64_t, std::int64_t>>> pauses_of(
    const history::History& history) {
  std::map<int, std::vector<std::pair<std::int64_t, std::int64_t>>> pauses;
  std::map<int, std::int64_t> since;
  const auto worker_of = [](const history::Event& e) {
    const auto it = e.value.find("worker");
    return it != e.value.end() && it->is_number_integer() ? it->get<int>() : -1;
  };
  for (const auto& e : history.events()) {
    if (e.type != EventType::fault) continue;
    if (e.kind == "pause" && worker_of(e) >= 0) since.emplace(worker_of(e), e.time_ns);
    const bool ends = e.kind == "resume" || e.kind == "crash" || e.kind == "abandon";
    if ((ends && since.contains(worker_of(e))) || e.kind == "heal") {
      for (auto it = since.begin(); it != since.end();) {
        if (e.kind == "heal" || it->first == worker_of(e)) {
          pauses[it->first].push_back({it->second, e.time_ns});
          it = since.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (const auto& [worker, from] : since) {
    pauses[worker].push_back({from, std::numeric_limits<std::int64_t>::max()});
  }
  return pauses;
}

class LockWaitBounded final : public Invariant {
 public:
  std::string_view name() const override { return "lock_wait_bounded"; }
  std::string_view description() const override {
    return "no operation waited for a held lock past its bound (lock_max_wait_ms)";
  }

  Verdict check(const ObservedWorld& world) const override {
    if (world.history == nullptr) return Verdict::unknown("lock wait bounded: no history recorded");
    const auto& history = *world.history;
    const auto lock = history::lock_history_of(history);
    if (!lock.observed) {
      return Verdict::unknown("lock wait bounded: Redis was not watched: " + lock.why_not);
    }
    std::map<ClientUser, std::vector<const LockAttempt*>> attempts;
    for (const auto& attempt : lock.attempts) {
      if (!attempt.caller.named()) continue;  // not attributable to an operation
      attempts[{attempt.caller.worker, attempt.caller.client, attempt.user}].push_back(&attempt);
    }
    const auto pauses = pauses_of(history);
    const std::int64_t history_end = history.empty() ? 0 : history.events().back().time_ns;

    CappedVerdict verdict("lock wait bounded");
    int waits = 0;
    for (const auto& op : history::operations_of(history)) {
      if (op.invoke == nullptr) continue;
      const auto& invoke = *op.invoke;
      const auto bound = invoke.value.find("lock_max_wait_ms");
      if (bound == invoke.value.end() || !bound->is_number_integer()) continue;
      const auto found = attempts.find({invoke.worker, invoke.client, invoke.user});
      if (found == attempts.end()) continue;
      const std::int64_t from = invoke.time_ns;
      const std::int64_t to = op.completion != nullptr ? op.completion->time_ns : history_end;
      // The op's attempts, in order: a run of refusals ends at a grant.
      std::int64_t first_refusal = -1, last = -1;
      int refusals = 0;
      const auto judge = [&] {
        if (first_refusal < 0) return;
        ++waits;
        const std::int64_t waited = last - first_refusal;
        const std::int64_t allowed = bound->get<std::int64_t>() * 1'000'000 + slack_ns;
        if (waited <= allowed || lock.unseen_during(first_refusal, last)) return;
        if (const auto it = pauses.find(invoke.worker); it != pauses.end()) {
          for (const auto& [paused, resumed] : it->second) {
            if (paused <= last && first_refusal <= resumed) return;
          }
        }
        verdict.violation(
            "lock_wait_unbounded",
            fmt::format("op {} ({} of user {} by worker {}, client {}) waited {} for the "
                        "user's lock, past its bound of {} ms: {} refused attempts from {} to {}",
                        invoke.op, invoke.kind, invoke.user, invoke.worker, invoke.client,
                        seconds(waited), bound->get<std::int64_t>(), refusals,
                        seconds(first_refusal), seconds(last)),
            {{"user", invoke.user}, {"operation", history::to_json(op)}, {"refusals", refusals}});
      };
      for (const LockAttempt* attempt : found->second) {
        const std::int64_t t = attempt->event->time_ns;
        if (t < from - history::redis_clock_skew_ns || t > to + history::redis_clock_skew_ns) {
          continue;
        }
        if (attempt->outcome == LockAttempt::Outcome::refused) {
          if (first_refusal < 0) first_refusal = t;
          last = t;
          ++refusals;
          continue;
        }
        last = t;  // granted (or perhaps): the wait ends here
        judge();
        first_refusal = -1;
        refusals = 0;
      }
      judge();
    }
    return verdict.finish(fmt::format("{} wait{} for a held lock", waits, waits == 1 ? "" : "s"));
  }
};

}  // namespace

ORGQUAKE_REGISTER_INVARIANT(LockWaitBounded);

}  // namespace orgquake::invariants
