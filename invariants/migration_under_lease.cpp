// Every operation that migrated a user did so under that user's lock: Redis
// granted the lock to the operation's own client between its invoke and its
// completion. Catches a lookup that goes on without the lock when Redis is
// down, a second migration path (a backfill) that never takes it, and any
// migrator that migrates first and locks later. An operation is matched to
// its grants through the client's named Redis connection
// (worker::connection_name); a migrator whose connections carry no name
// is held to the weaker rule that some unnamed caller was granted the lock
// meanwhile. An operation that overlaps a stretch the lock observer did not
// see is left undecided, never guessed.
//
// Symptom codes (results::Evidence::symptom):
//   migrated_without_lease             an operation migrated a user while Redis granted its
//                                      client (or, unattributed, anyone) no lease of the lock
//   migrated_without_lease_redis_down  the same, and the operation began or ended while the
//                                      harness had Redis stopped
#include <map>
#include <set>

#include <fmt/format.h>

#include "history/lock_leases.hpp"
#include "history/operations.hpp"
#include "invariants/capped_verdict.hpp"
#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

using history::EventType;
using history::LockLease;
using history::seconds;

bool migrated_here(const history::Operation& op) {
  if (!op.ok() || op.invoke == nullptr) return false;
  const auto it = op.completion->value.find("migrated_here");
  return it != op.completion->value.end() && it->is_boolean() && it->get<bool>();
}

bool within(std::int64_t t, const history::UnseenStretch& stretch) {
  return stretch.from_ns <= t && t <= stretch.to_ns;
}

class MigrationUnderLease final : public Invariant {
 public:
  std::string_view name() const override { return "migration_under_lease"; }
  std::string_view description() const override {
    return "every operation that migrated a user was granted that user's lock while it ran";
  }

  Verdict check(const ObservedWorld& world) const override {
    if (world.history == nullptr)
      return Verdict::unknown("migration under lease: no history recorded");
    const auto lock = history::lock_history_of(*world.history);
    if (!lock.observed) {
      return Verdict::unknown("migration under lease: Redis was not watched: " + lock.why_not);
    }
    // The clients whose lock commands came over named connections.
    std::set<std::pair<int, int>> named;
    std::map<std::string, std::vector<const LockLease*>> grants;
    for (const auto& lease : lock.leases) {
      if (lease.holder.named()) named.insert({lease.holder.worker, lease.holder.client});
      grants[lease.user].push_back(&lease);
    }
    for (const auto& event : world.history->events()) {
      if (event.type != EventType::redis) continue;
      const auto worker = event.value.find("worker");
      const auto client = event.value.find("client");
      if (worker != event.value.end() && worker->is_number_integer() &&
          client != event.value.end() && client->is_number_integer()) {
        named.insert({worker->get<int>(), client->get<int>()});
      }
    }

    CappedVerdict verdict("migration under lease");
    int checked = 0;
    int undecided = 0;
    for (const auto& op : history::operations_of(*world.history)) {
      if (!migrated_here(op)) continue;
      const auto& invoke = *op.invoke;
      const std::int64_t from = invoke.time_ns, to = op.completion->time_ns;
      if (lock.unseen_during(from, to)) {
        ++undecided;
        continue;
      }
      ++checked;
      const bool attributed = named.contains({invoke.worker, invoke.client});
      bool leased = false;
      for (const LockLease* lease : grants[invoke.user]) {
        if (lease->granted_ns < from - history::redis_clock_skew_ns ||
            lease->granted_ns > to + history::redis_clock_skew_ns) {
          continue;
        }
        if (attributed
                ? lease->holder.worker == invoke.worker && lease->holder.client == invoke.client
                : !lease->holder.named()) {
          leased = true;
          break;
        }
      }
      if (leased) continue;
      std::string why;
      const char* symptom = "migrated_without_lease";
      for (const auto& down : lock.down) {
        if (within(from, down) || within(to, down)) {
          why = ", while the harness had Redis stopped";
          symptom = "migrated_without_lease_redis_down";
          break;
        }
      }
      verdict.violation(
          symptom,
          fmt::format("op {} ({} of user {} by worker {}, client {}) migrated the user between "
                      "{} and {}{}, but Redis granted {} no lease of the user's lock meanwhile",
                      invoke.op, invoke.kind, invoke.user, invoke.worker, invoke.client,
                      seconds(from), seconds(to), why, attributed ? "its client" : "anyone"),
          {{"user", invoke.user}, {"operation", history::to_json(op)}});
    }
    std::string checked_text =
        fmt::format("{} migrating operation{}", checked, checked == 1 ? "" : "s");
    if (undecided > 0) {
      checked_text +=
          fmt::format(" ({} more overlapped a stretch Redis was not watched)", undecided);
    }
    return verdict.finish(checked_text);
  }
};

}  // namespace

ORGQUAKE_REGISTER_INVARIANT(MigrationUnderLease);

}  // namespace orgquake::invariants
