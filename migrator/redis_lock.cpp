#include "migrator/redis_lock.hpp"

#include <boost/fiber/operations.hpp>
#include <fmt/format.h>

#include "migrator/failpoints/failpoint.hpp"

namespace orgquake::migrator {
namespace {

// Grant the lock and the next fencing token in one atomic step: a holder
// always has a token, and tokens follow the order of grants.
constexpr const char* kAcquire = R"lua(
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return false
)lua";

// Delete only our own lock: after our lease expired, the key may hold
// another request's token.
constexpr const char* kRelease = R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
)lua";

}  // namespace

LockTimeout::LockTimeout(const std::string& user_id, std::chrono::milliseconds waited, int attempts)
    : std::runtime_error(
          fmt::format("could not lock user {} within {} ms ({} attempts): another request holds it",
                      user_id, waited.count(), attempts)) {}

io::RedisReply RedisLock::run_script(std::string& sha, const char* source,
                                     const std::vector<std::string_view>& keys_and_args) {
  // EVALSHA sends 40 bytes instead of the script. The script cache is empty
  // after a Redis restart (NOSCRIPT): load it again and retry once.
  for (int attempt = 0;; ++attempt) {
    const auto deadline = io::after(options_.command_timeout);
    if (sha.empty()) sha = redis_.command({"SCRIPT", "LOAD", source}, deadline).text;
    std::vector<std::string_view> command{"EVALSHA", sha};
    command.insert(command.end(), keys_and_args.begin(), keys_and_args.end());
    try {
      return redis_.command(command, deadline);
    } catch (const io::RedisErrorReply& e) {
      if (attempt > 0 || std::string_view(e.what()).rfind("NOSCRIPT", 0) != 0) throw;
      sha.clear();
    }
  }
}

LockLease RedisLock::acquire(const std::string& user_id, int* waits) {
  LockLease lease;
  lease.user_id = user_id;
  lease.key = options_.key_prefix + user_id;
  lease.owner_token = fmt::format("{:016x}{:016x}", rng_.next(), rng_.next());
  const std::string fence_key = options_.fence_prefix + user_id;
  const std::string ttl = std::to_string(options_.ttl.count());
  ORGQUAKE_FAILPOINT(lock_before_acquire);
  const auto started = std::chrono::steady_clock::now();
  const auto give_up = started + options_.max_wait;
  for (int attempt = 1;; ++attempt) {
    const auto granted_at = std::chrono::steady_clock::now();
    auto reply =
        run_script(acquire_sha_, kAcquire, {"2", lease.key, fence_key, lease.owner_token, ttl});
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
    const auto pause = std::chrono::milliseconds(
        rng_.between(options_.retry_min.count(), options_.retry_max.count()));
    boost::this_fiber::sleep_for(
        std::min<std::chrono::steady_clock::duration>(pause, give_up - now));
  }
}

bool RedisLock::release(const LockLease& lease) {
  ORGQUAKE_FAILPOINT(lock_before_release);
  auto reply = run_script(release_sha_, kRelease, {"1", lease.key, lease.owner_token});
  return reply.kind == io::RedisReply::Kind::integer && reply.integer == 1;
}

}  // namespace orgquake::migrator
