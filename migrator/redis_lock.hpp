#pragma once

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "core/random.hpp"
#include "migrator/io/redis_client.hpp"

namespace orgquake::migrator {

struct LockOptions {
  /// How long a lease lasts if its holder neither releases it nor lives:
  /// the bound on how long a crashed holder blocks the user.
  std::chrono::milliseconds ttl{10'000};
  /// How long acquire() waits for a held lock before giving up.
  std::chrono::milliseconds max_wait{5'000};
  /// Jittered pause between attempts, so that waiters do not retry in lockstep.
  std::chrono::milliseconds retry_min{2};
  std::chrono::milliseconds retry_max{25};
  /// Deadline of each Redis command.
  std::chrono::milliseconds command_timeout{2'000};
  std::string key_prefix = "orgquake:lock:user:";
  std::string fence_prefix = "orgquake:fence:user:";
};

/// A held lock. `fencing_token` increases with every grant of this user's
/// lock; the database refuses a commit whose token is older than one it has
/// seen, so a holder that outlived its lease (paused, partitioned) cannot
/// commit stale work.
struct LockLease {
  std::string user_id;
  std::string key;
  std::string owner_token;  ///< random; release deletes the key only if it still holds this
  std::int64_t fencing_token = 0;
  std::chrono::steady_clock::time_point expires_at;
};

/// The lock could not be had within max_wait: another request holds it.
class LockTimeout : public std::runtime_error {
 public:
  LockTimeout(const std::string& user_id, std::chrono::milliseconds waited, int attempts);
};

/// A per-user distributed lock in Redis (SET key token NX PX ttl), released
/// by compare-and-delete so that a holder whose lease expired cannot delete
/// the lock a later holder now has. Redis being unreachable is an error
/// (io::RedisUnavailable), never a reason to go on without the lock.
class RedisLock {
 public:
  RedisLock(io::RedisClient& redis, LockOptions options, Rng rng)
      : redis_(redis), options_(std::move(options)), rng_(rng) {}

  /// Waits (suspending only this fiber) until the lock is ours or max_wait
  /// passes. `waits` counts the attempts that found the lock held.
  LockLease acquire(const std::string& user_id, int* waits = nullptr);

  /// Releases the lease if it is still ours; false if it had expired and
  /// perhaps passed to someone else (who keeps it).
  bool release(const LockLease& lease);

  const LockOptions& options() const { return options_; }

 private:
  io::RedisReply run_script(std::string& sha, const char* source,
                            const std::vector<std::string_view>& keys_and_args);

  io::RedisClient& redis_;
  LockOptions options_;
  Rng rng_;
  std::string acquire_sha_, release_sha_;  ///< loaded on first use
};

}  // namespace orgquake::migrator
