#include "migrator/redis_lock.hpp"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>

#include "migrator/failpoints/failpoint.hpp"

namespace orgquake::migrator {
namespace {

// Grant the lock and the next fencing token in one atomic step: a holder
// always has a token, and tokens follow the order of grants. When the lock
// is held, say for how long yet (PTTL) and where the user's release stream
// stands, so that the waiter's XREAD from there misses no later release.
constexpr const char* kAcquire = R"lua(
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local seen = '0-0'
if #last > 0 then seen = last[1][1] end
return {redis.call('PTTL', KEYS[1]), seen}
)lua";

// Delete only our own lock: after our lease expired, the key may hold
// another request's token. A release is announced on the user's stream (one
// entry kept, gone a while after the last release) to wake every waiter.
constexpr const char* kRelease = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('XADD', KEYS[2], 'MAXLEN', '1', '*', 'released', ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
)lua";

// A script's SHA1 depends on its text alone, so one SCRIPT LOAD per process
// serves every lock and every connection: a lookup sends EVALSHA only,
// instead of a load before each acquire and each release (64 extra round
// trips in every duplicate-lookup storm). A server that lacks the script
// (restarted since) answers NOSCRIPT, and run_script loads it again.
struct LoadedScript {
  const char* source;
  std::mutex mutex;
  std::string sha;  ///< empty until first loaded

  std::string get() {
    std::lock_guard lock(mutex);
    return sha;
  }
  void set(std::string loaded) {
    std::lock_guard lock(mutex);
    sha = std::move(loaded);
  }
};

LoadedScript acquire_script{kAcquire, {}, {}};
LoadedScript release_script{kRelease, {}, {}};

/// What an attempt that found the lock held learned.
struct Held {
  std::chrono::milliseconds lease_left{0};  ///< 0 when the key has no expiry
  std::string stream_position = "0-0";
};

Held held_from(const io::RedisReply& reply) {
  Held held;
  if (reply.kind != io::RedisReply::Kind::array || reply.elements.size() != 2) return held;
  held.lease_left = std::chrono::milliseconds(std::max<std::int64_t>(0, reply.elements[0].integer));
  held.stream_position = reply.elements[1].text;
  return held;
}

}  // namespace

LockTimeout::LockTimeout(const std::string& user_id, std::chrono::milliseconds waited, int attempts)
    : std::runtime_error(
          fmt::format("could not lock user {} within {} ms ({} attempts): another request holds it",
                      user_id, waited.count(), attempts)) {}

namespace {

io::RedisReply run_script(io::RedisClient& redis, LoadedScript& script,
                          const std::vector<std::string_view>& keys_and_args,
                          std::chrono::milliseconds timeout) {
  // EVALSHA sends 40 bytes instead of the script. The script cache is empty
  // after a Redis restart (NOSCRIPT): load it again and retry once.
  for (int attempt = 0;; ++attempt) {
    const auto deadline = io::after(timeout);
    std::string sha = script.get();
    if (sha.empty()) {
      // Outside the mutex: the load suspends this fiber, and two fibers
      // loading at once both get the same SHA.
      sha = redis.command({"SCRIPT", "LOAD", script.source}, deadline).text;
      script.set(sha);
    }
    std::vector<std::string_view> command{"EVALSHA", sha};
    command.insert(command.end(), keys_and_args.begin(), keys_and_args.end());
    try {
      return redis.command(command, deadline);
    } catch (const io::RedisErrorReply& e) {
      if (attempt > 0 || std::string_view(e.what()).rfind("NOSCRIPT", 0) != 0) throw;
      script.set({});
    }
  }
}

}  // namespace

LockLease RedisLock::acquire(const std::string& user_id, int* waits) {
  return *acquire_unless(
      user_id, [] { return false; }, waits);
}

std::optional<LockLease> RedisLock::acquire_unless(const std::string& user_id,
                                                   const DoneMeanwhile& done_meanwhile,
                                                   int* waits) {
  LockLease lease;
  lease.user_id = user_id;
  lease.key = options_.key_prefix + user_id;
  lease.owner_token = fmt::format("{:016x}{:016x}", rng_.next(), rng_.next());
  const std::string fence_key = options_.fence_prefix + user_id;
  const std::string stream_key = released_key(user_id);
  const std::string ttl = std::to_string(options_.ttl.count());
  ORGQUAKE_FAILPOINT(lock_before_acquire);
  const auto started = std::chrono::steady_clock::now();
  const auto give_up = started + options_.max_wait;
  for (int attempt = 1;; ++attempt) {
    const auto granted_at = std::chrono::steady_clock::now();
    auto reply = run_script(redis_, acquire_script,
                            {"3", lease.key, fence_key, stream_key, lease.owner_token, ttl},
                            options_.command_timeout);
    if (reply.kind == io::RedisReply::Kind::integer) {
      lease.fencing_token = reply.integer;
      lease.expires_at = granted_at + options_.ttl;
      ORGQUAKE_FAILPOINT(lock_after_acquire);
      return lease;
    }
    if (waits != nullptr) ++*waits;
    const auto now = std::chrono::steady_clock::now();
    if (now >= give_up) {
      throw LockTimeout(
          user_id, std::chrono::duration_cast<std::chrono::milliseconds>(now - started), attempt);
    }
    // Until the holder releases (the stream moves) or its lease ends, then a
    // jitter, never past the slice nor the give-up time.
    const Held held = held_from(reply);
    const auto jitter = std::chrono::milliseconds(
        rng_.between(options_.retry_min.count(), options_.retry_max.count()));
    auto wait = held.lease_left > std::chrono::milliseconds(0) ? held.lease_left + jitter
                                                               : options_.wait_slice;
    wait = std::min(
        {wait, options_.wait_slice, std::chrono::ceil<std::chrono::milliseconds>(give_up - now)});
    wait_for_release(stream_key, held.stream_position, wait);
    if (done_meanwhile()) return std::nullopt;
  }
}

void RedisLock::wait_for_release(const std::string& stream_key, const std::string& seen,
                                 std::chrono::milliseconds wait) {
  // XREAD BLOCK 0 would block for ever: a wait is at least a millisecond.
  const auto block = std::max<std::int64_t>(1, wait.count());
  redis_.command(
      {"XREAD", "COUNT", "1", "BLOCK", std::to_string(block), "STREAMS", stream_key, seen},
      io::after(std::chrono::milliseconds(block) + options_.command_timeout));
}

bool RedisLock::release(const LockLease& lease) {
  ORGQUAKE_FAILPOINT(lock_before_release);
  // The stream outlives a release long enough for every waiter of it to read
  // it: one wait slice, or the lease, whichever is longer.
  const auto keep = std::max(options_.wait_slice, options_.ttl);
  auto reply = run_script(redis_, release_script,
                          {"2", lease.key, released_key(lease.user_id), lease.owner_token,
                           std::to_string(keep.count())},
                          options_.command_timeout);
  return reply.kind == io::RedisReply::Kind::integer && reply.integer == 1;
}

}  // namespace orgquake::migrator
