// The lock is taken with SET NX and no expiry. A holder that dies (a
// SIGKILLed replica, an OOM kill) leaves the lock for ever: the user can
// never be migrated or served again until someone deletes the key by hand.
//
// Source: SET NX without EX/PX (or SETNX followed by an EXPIRE that a crash
// skips), a classic of Redis lock helpers.
#include <boost/fiber/operations.hpp>
#include <fmt/format.h>

#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

// The reference's grant without its PX: the lease never ends by itself.
constexpr const char* kAcquireForever = R"lua(
if redis.call('SET', KEYS[1], ARGV[1], 'NX') then
  return redis.call('INCR', KEYS[2])
end
return false
)lua";

class LockWithoutExpiry final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:lock_without_expiry"; }

 protected:
  std::optional<LockLease> take_lock(MigratorContext& ctx, RedisLock&, const std::string& id,
                                     const RedisLock::DoneMeanwhile&) override {
    LockLease lease;
    lease.user_id = id;
    lease.key = ctx.lock.key_prefix + id;
    lease.owner_token = fmt::format("{:016x}{:016x}", ctx.rng.next(), ctx.rng.next());
    const std::string fence_key = ctx.lock.fence_prefix + id;
    const auto give_up = std::chrono::steady_clock::now() + ctx.lock.max_wait;
    for (int attempt = 1;; ++attempt) {
      const auto reply =
          ctx.redis.command({"EVAL", kAcquireForever, "2", lease.key, fence_key, lease.owner_token},
                            io::after(ctx.lock.command_timeout));
      if (reply.kind == io::RedisReply::Kind::integer) {
        lease.fencing_token = reply.integer;
        lease.expires_at = std::chrono::steady_clock::time_point::max();
        return lease;
      }
      ++ctx.stats.lock_waits;
      if (std::chrono::steady_clock::now() >= give_up) {
        throw LockTimeout(id, ctx.lock.max_wait, attempt);
      }
      boost::this_fiber::sleep_for(std::chrono::milliseconds(
          ctx.rng.between(ctx.lock.retry_min.count(), ctx.lock.retry_max.count())));
    }
  }
};

}  // namespace

CatalogBug lock_without_expiry() {
  return {"lock_without_expiry",
          "takes the lock with SET NX and no expiry: a holder that dies blocks the user for ever",
          "SET NX without PX (or SETNX then EXPIRE, which a crash skips) in Redis lock helpers",
          "",
          [] { return std::make_unique<LockWithoutExpiry>(); },
          {"lock_expiry_recovery/never_served", "lock_expiry_recovery/served_too_late"}};
}

}  // namespace orgquake::migrator::bugs
