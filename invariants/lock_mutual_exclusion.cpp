// No two callers held one user's lock at once, and no caller deleted (or
// overwrote) a lock another caller held. Judged from Redis's own record of
// the lock commands (the lock observer), so it holds any migrator to it:
// a release by plain DEL, a holder that resumes after its lease expired and
// deletes its successor's lock, a lock taken by SET without NX. Leases whose
// grant or end the observer could not be sure of (within a few milliseconds
// of an expiry, or across a stretch it did not see) are never evidence.
//
// Symptom codes (results::Evidence::symptom):
//   overlapping_leases  two callers held one user's lock at once
//   foreign_release     a caller deleted (DEL, UNLINK, GETDEL) a lock another caller held
//   foreign_overwrite   a caller overwrote (SET without NX, ...) a lock another caller held
#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "history/lock_leases.hpp"
#include "history/operations.hpp"
#include "invariants/capped_verdict.hpp"
#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

using history::LockLease;
using history::seconds;

constexpr std::int64_t tolerance_ns = history::redis_clock_skew_ns;

std::string until(const LockLease& lease) {
  switch (lease.end) {
    case LockLease::End::released:
      return fmt::format("released at {}", seconds(lease.ends_ns));
    case LockLease::End::expired:
      return fmt::format("expiring at {}", seconds(lease.ends_ns));
    case LockLease::End::unseen:
      return fmt::format("until {} at least", seconds(lease.ends_ns));
    case LockLease::End::history_end:
      return "with no expiry";
  }
  return "";
}

nlohmann::json lease_json(const LockLease& lease) {
  return {{"holder", lease.holder.describe()},
          {"granted", lease.grant != nullptr ? lease.grant->to_json() : nlohmann::json()},
          {"released", lease.release != nullptr ? lease.release->to_json() : nlohmann::json()},
          {"ends_ns",
           lease.ends_ns == history::no_expiry ? nlohmann::json() : nlohmann::json(lease.ends_ns)}};
}

class LockMutualExclusion final : public Invariant {
 public:
  std::string_view name() const override { return "lock_mutual_exclusion"; }
  std::string_view description() const override {
    return "no two callers held a user's lock at once, and none deleted a lock another held";
  }

  Verdict check(const ObservedWorld& world) const override {
    if (world.history == nullptr)
      return Verdict::unknown("lock mutual exclusion: no history recorded");
    const auto lock = history::lock_history_of(*world.history, tolerance_ns);
    if (!lock.observed) {
      return Verdict::unknown("lock mutual exclusion: Redis was not watched: " + lock.why_not);
    }
    std::map<std::string, std::vector<const LockLease*>> by_user;
    int certain = 0;
    for (const auto& lease : lock.leases) {
      if (!lease.certain) continue;
      by_user[lease.user].push_back(&lease);
      ++certain;
    }
    CappedVerdict verdict("lock mutual exclusion");
    for (auto& [user, leases] : by_user) {
      // Grant order; a later grant inside an earlier lease is an overlap.
      std::stable_sort(leases.begin(), leases.end(),
                       [](const auto* a, const auto* b) { return a->granted_ns < b->granted_ns; });
      for (std::size_t i = 0; i < leases.size(); ++i) {
        const LockLease& first = *leases[i];
        for (std::size_t j = i + 1; j < leases.size(); ++j) {
          const LockLease& second = *leases[j];
          if (second.granted_ns >= first.ends_ns - tolerance_ns) break;
          if (second.holder.same_as(first.holder)) continue;
          const std::int64_t overlap = std::min(first.ends_ns, second.ends_ns) - second.granted_ns;
          verdict.violation(
              "overlapping_leases",
              fmt::format("user {}'s lock was held by two callers at once for {}: {} was "
                          "granted it at {} ({}), and {} was granted it at {}",
                          user, seconds(overlap), first.holder.describe(),
                          seconds(first.granted_ns), until(first), second.holder.describe(),
                          seconds(second.granted_ns)),
              {{"user", user}, {"leases", {lease_json(first), lease_json(second)}}});
        }
      }
    }
    for (const auto& stolen : lock.foreign_releases) {
      const LockLease& victim = lock.leases[stolen.victim];
      const bool deleted = stolen.command->kind == "del" || stolen.command->kind == "unlink" ||
                           stolen.command->kind == "getdel";
      verdict.violation(
          deleted ? "foreign_release" : "foreign_overwrite",
          fmt::format("{} {} user {}'s lock at {} while {} held it (granted at {}, {})",
                      stolen.by.describe(), deleted ? "deleted" : "overwrote", victim.user,
                      seconds(stolen.command->time_ns), victim.holder.describe(),
                      seconds(victim.granted_ns), until(victim)),
          {{"user", victim.user},
           {"command", stolen.command->to_json()},
           {"victim", lease_json(victim)}});
    }
    return verdict.finish(fmt::format(
        "{} grant{} of the locks of {} user{}{}", certain, certain == 1 ? "" : "s", by_user.size(),
        by_user.size() == 1 ? "" : "s", lock.unseen.empty() ? "" : ", with stretches unseen"));
  }
};

}  // namespace

ORGQUAKE_REGISTER_INVARIANT(LockMutualExclusion);

}  // namespace orgquake::invariants
