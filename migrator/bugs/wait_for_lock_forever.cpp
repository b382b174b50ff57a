// The lookup waits for the lock with no bound: while a holder stalls, every
// request for that user queues behind it, for as long as the lease lasts (or
// for ever, with a lock that has no expiry), instead of failing fast.
//
// Source: `while not acquired: sleep(0.1)` loops around SET NX, the shape
// of the seed system's lock helper.
#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class WaitForLockForever final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:wait_for_lock_forever"; }

 protected:
  std::optional<LockLease> take_lock(MigratorContext& ctx, RedisLock&, const std::string& id,
                                     const RedisLock::DoneMeanwhile& done_meanwhile) override {
    LockOptions unbounded = ctx.lock;
    unbounded.max_wait = std::chrono::hours(24);
    RedisLock patient(ctx.redis, unbounded, Rng(ctx.rng.next()));
    return patient.acquire_unless(id, done_meanwhile, &ctx.stats.lock_waits);
  }
};

}  // namespace

CatalogBug wait_for_lock_forever() {
  return {"wait_for_lock_forever",
          "waits for a held lock with no bound instead of failing after max_wait",
          "sleep-and-retry loops around SET NX with no deadline",
          "",
          [] { return std::make_unique<WaitForLockForever>(); },
          {"lock_wait_bounded/lock_wait_unbounded"}};
}

}  // namespace orgquake::migrator::bugs
