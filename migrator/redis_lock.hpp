#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
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
  /// Jitter added to each wait, so that waiters woken together do not retry
  /// in lockstep. A waiter sleeps until the holder releases (it is notified)
  /// or its lease ends, whichever comes first, plus this jitter.
  std::chrono::milliseconds retry_min{2};
  std::chrono::milliseconds retry_max{25};
  /// The longest one wait lasts before the waiter looks again, whatever the
  /// lease says: a bound on trusting a single notification.
  std::chrono::milliseconds wait_slice{250};
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
///
/// Waiting is not polling: each release appends to the user's release stream
/// (`fence_prefix + user + ":released"`, one entry kept), and a waiter blocks
/// on XREAD from the stream position it saw when its attempt failed, so a
/// release between that attempt and the wait still wakes it. Every waiter is
/// woken by one release (a stream read does not consume), and each first asks
/// its caller whether the work it waited for is done meanwhile: a request for
/// a user whose migration the holder just finished returns without taking the
/// lock at all, instead of queueing for it behind every other waiter.
class RedisLock {
 public:
  RedisLock(io::RedisClient& redis, LockOptions options, Rng rng)
      : redis_(redis), options_(std::move(options)), rng_(rng) {}

  /// Waits (suspending only this fiber) until the lock is ours or max_wait
  /// passes. `waits` counts the attempts that found the lock held.
  LockLease acquire(const std::string& user_id, int* waits = nullptr);

  /// Says, after each wait, whether what the caller wanted the lock for has
  /// been done by someone else meanwhile (the holder migrated the user).
  using DoneMeanwhile = std::function<bool()>;

  /// As acquire(), but gives up waiting, without the lock, as soon as
  /// `done_meanwhile` says so: nullopt then, a lease otherwise.
  std::optional<LockLease> acquire_unless(const std::string& user_id,
                                          const DoneMeanwhile& done_meanwhile,
                                          int* waits = nullptr);

  /// The user's release stream: a release appends to it, waiters read it.
  std::string released_key(const std::string& user_id) const {
    return options_.fence_prefix + user_id + ":released";
  }

  /// Releases the lease if it is still ours; false if it had expired and
  /// perhaps passed to someone else (who keeps it).
  bool release(const LockLease& lease);

  const LockOptions& options() const { return options_; }

 private:
  /// Blocks until the release stream moves past `seen` or `wait` passes.
  void wait_for_release(const std::string& stream_key, const std::string& seen,
                        std::chrono::milliseconds wait);

  io::RedisClient& redis_;
  LockOptions options_;
  Rng rng_;
};

}  // namespace orgquake::migrator
