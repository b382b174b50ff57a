"""A per-user distributed lock in Redis, as migrator/redis_lock.cpp.

SET key token NX PX ttl grants the lock and INCR of the user's fence key
hands out the fencing token, in one Lua script, so that a holder always has a
token and tokens follow the order of grants. Release is compare-and-delete:
a holder whose lease expired cannot delete the lock a later holder now has.
Redis being unreachable is an error (redis.ConnectionError / TimeoutError,
RedisUnavailable to the controller), never a reason to go on without the lock.

A waiter does not poll blindly: a release is announced on the user's stream,
and a waiter blocks on XREAD from where the stream stood when it found the
lock held, until the release, the end of the holder's lease, or a slice; then
it asks its caller whether the user is done meanwhile (migrated by the holder)
before it tries again. The scripts are the C++ reference's, to the byte.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass

import orgquake
import redis
from orgquake import failpoint
from orgquake.errors import LockTimeout

ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
local last = redis.call('XREVRANGE', KEYS[3], '+', '-', 'COUNT', 1)
local seen = '0-0'
if #last > 0 then seen = last[1][1] end
return {redis.call('PTTL', KEYS[1]), seen}
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('XADD', KEYS[2], 'MAXLEN', '1', '*', 'released', ARGV[1])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 1
end
return 0
"""

# The longest single wait between two attempts, as the C++ reference's
# wait_slice: a release missed (the stream expired) costs at most this.
WAIT_SLICE_MS = 250


@dataclass(frozen=True)
class LockLease:
    user_id: str
    key: str
    owner_token: str  # random; release deletes the key only if it still holds this
    fencing_token: int
    expires_at: float  # time.monotonic()


class LockScripts:
    """The two scripts, registered once per Redis client.

    redis-py runs them by EVALSHA and loads them again on NOSCRIPT (an empty
    script cache after a Redis restart), as run_script does in C++.
    """

    def __init__(self, client: redis.Redis):
        self.acquire = client.register_script(ACQUIRE)
        self.release = client.register_script(RELEASE)


class RedisLock:
    def __init__(self, client: redis.Redis, scripts: LockScripts, options, rng: random.Random):
        self._redis = client
        self._scripts = scripts
        self._options = options  # orgquake.Plan.lock
        self._rng = rng
        self.wait_slice_ms = WAIT_SLICE_MS
        self.releases_seen = 0  # waits that a release ended, not the clock

    def acquire(self, user_id: str) -> LockLease:
        """Waits until the lock is ours, or raises LockTimeout once max_wait passes."""
        return self.acquire_unless(user_id, None)

    def released_key(self, user_id: str) -> str:
        return self._options.fence_prefix + user_id + ":released"

    def acquire_unless(self, user_id: str, done_meanwhile) -> LockLease | None:
        """As acquire, but None once done_meanwhile() (asked after each wait) is true."""
        o = self._options
        key = o.key_prefix + user_id
        fence_key = o.fence_prefix + user_id
        stream_key = self.released_key(user_id)
        owner_token = "%016x%016x" % (self._rng.getrandbits(64), self._rng.getrandbits(64))
        failpoint("lock.before_acquire")
        started = time.monotonic()
        give_up = started + o.max_wait_ms / 1000.0
        attempt = 0
        while True:
            attempt += 1
            granted_at = time.monotonic()
            reply = self._scripts.acquire(
                keys=[key, fence_key, stream_key], args=[owner_token, o.ttl_ms],
                client=self._redis
            )
            if not isinstance(reply, list):
                lease = LockLease(user_id, key, owner_token, int(reply),
                                  granted_at + o.ttl_ms / 1000.0)
                failpoint("lock.after_acquire")
                return lease
            orgquake.note_lock_wait()
            now = time.monotonic()
            if now >= give_up:
                raise LockTimeout(
                    f"could not lock user {user_id} within {int((now - started) * 1000)} ms "
                    f"({attempt} attempts): another request holds it"
                )
            # Until the holder releases (the stream moves) or its lease ends,
            # then a jitter; never past the slice nor the give-up time.
            lease_left_ms = max(0, int(reply[0])) if reply else 0
            seen = reply[1] if len(reply) > 1 else "0-0"
            if isinstance(seen, bytes):
                seen = seen.decode()
            jitter = self._rng.randint(o.retry_min_ms, max(o.retry_min_ms, o.retry_max_ms))
            wait_ms = lease_left_ms + jitter if lease_left_ms > 0 else self.wait_slice_ms
            wait_ms = min(wait_ms, self.wait_slice_ms, math.ceil((give_up - now) * 1000))
            self._wait_for_release(stream_key, seen, wait_ms)
            if done_meanwhile is not None and done_meanwhile():
                return None

    def _wait_for_release(self, stream_key: str, seen: str, wait_ms: int) -> None:
        # XREAD BLOCK 0 would block for ever: a wait is at least a
        # millisecond, and it ends before the socket's own timeout would.
        block = max(1, min(wait_ms, self._options.command_timeout_ms // 2))
        if self._redis.xread({stream_key: seen}, count=1, block=block):
            self.releases_seen += 1

    def release(self, lease: LockLease) -> bool:
        """Releases the lease if still ours; False if it had expired (and perhaps passed on)."""
        failpoint("lock.before_release")
        # The stream outlives a release long enough for every waiter of it
        # to read it: one wait slice, or the lease, whichever is longer.
        keep_ms = max(WAIT_SLICE_MS, self._options.ttl_ms)
        deleted = self._scripts.release(
            keys=[lease.key, self.released_key(lease.user_id)],
            args=[lease.owner_token, keep_ms], client=self._redis
        )
        return deleted == 1
