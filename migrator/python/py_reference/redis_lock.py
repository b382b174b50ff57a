"""A per-user distributed lock in Redis, as migrator/redis_lock.cpp.

SET key token NX PX ttl grants the lock and INCR of the user's fence key
hands out the fencing token, in one Lua script, so that a holder always has a
token and tokens follow the order of grants. Release is compare-and-delete:
a holder whose lease expired cannot delete the lock a later holder now has.
Redis being unreachable is an error (redis.ConnectionError / TimeoutError,
RedisUnavailable to the controller), never a reason to go on without the lock.
"""

from __future__ import annotations

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
return false
"""

RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


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

    def acquire(self, user_id: str) -> LockLease:
        """Waits until the lock is ours, or raises LockTimeout once max_wait passes."""
        o = self._options
        key = o.key_prefix + user_id
        fence_key = o.fence_prefix + user_id
        owner_token = "%016x%016x" % (self._rng.getrandbits(64), self._rng.getrandbits(64))
        failpoint("lock.before_acquire")
        started = time.monotonic()
        give_up = started + o.max_wait_ms / 1000.0
        attempt = 0
        while True:
            attempt += 1
            granted_at = time.monotonic()
            token = self._scripts.acquire(
                keys=[key, fence_key], args=[owner_token, o.ttl_ms], client=self._redis
            )
            if token is not None:
                lease = LockLease(user_id, key, owner_token, int(token),
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
            pause = self._rng.randint(o.retry_min_ms, max(o.retry_min_ms, o.retry_max_ms)) / 1000.0
            time.sleep(min(pause, give_up - now))

    def release(self, lease: LockLease) -> bool:
        """Releases the lease if still ours; False if it had expired (and perhaps passed on)."""
        failpoint("lock.before_release")
        deleted = self._scripts.release(
            keys=[lease.key], args=[lease.owner_token], client=self._redis
        )
        return deleted == 1
