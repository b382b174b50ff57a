// The lock is released with a plain DEL, without checking that the key still
// holds this request's token. A holder whose lease expired (paused by a GC,
// a frozen VM, a slow call) deletes the lock another request now holds, and
// a third request walks in beside the second.
//
// Source: the lock-release pattern of the reference documents' lookup
// (`redis.delete(key)` in a `finally`), and the classic analysis of Redis
// locks (the Redis manual's "release only if the value matches" rule, which
// exists because of exactly this bug).
#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class ReleaseWithoutOwnerCheck final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:release_without_owner_check"; }

 protected:
  bool give_back_lock(MigratorContext& ctx, RedisLock&, const LockLease& lease) override {
    ctx.redis.command({"DEL", lease.key}, io::after(ctx.lock.command_timeout));  // whoever holds it
    return true;
  }
};

}  // namespace

CatalogBug release_without_owner_check() {
  return {"release_without_owner_check",
          "releases the lock with a plain DEL, deleting a lock another request now holds",
          "the reference documents' `finally: redis.delete(key)`; the Redis manual's "
          "compare-and-delete rule",
          "",
          [] { return std::make_unique<ReleaseWithoutOwnerCheck>(); },
          {"lock_mutual_exclusion/foreign_release", "lock_mutual_exclusion/overlapping_leases"}};
}

}  // namespace orgquake::migrator::bugs
