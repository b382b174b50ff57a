// "Graceful degradation" misread: when Redis cannot be reached, the lookup
// goes on without the lock (and without a fencing token), so concurrent
// requests for one user migrate it at once while Redis is down.
//
// Source: the post-migration verification principle's "graceful
// degradation" section, taken as "proceed without the lock".
#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator::bugs {
namespace {

class NoLockWhenRedisDown final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:no_lock_when_redis_down"; }

 protected:
  std::optional<LockLease> take_lock(MigratorContext& ctx, RedisLock& lock, const std::string& id,
                                     const RedisLock::DoneMeanwhile& done_meanwhile) override {
    try {
      return ReferenceMigrator::take_lock(ctx, lock, id, done_meanwhile);
    } catch (const io::RedisUnavailable&) {
      return std::nullopt;  // proceed unlocked
    }
  }
};

}  // namespace

CatalogBug no_lock_when_redis_down() {
  return {"no_lock_when_redis_down",
          "when Redis is unreachable, migrates without the lock and without a fencing token",
          "the verification principle's graceful degradation, read as \"go on without the lock\"",
          "",
          [] { return std::make_unique<NoLockWhenRedisDown>(); },
          {"migration_under_lease/migrated_without_lease_redis_down",
           "migration_under_lease/migrated_without_lease"}};
}

}  // namespace orgquake::migrator::bugs
