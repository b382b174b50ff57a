"""The user-creation lock of OpenHands' UserStore, as written there.

`SET create_user:<id> 1 NX EX 30` to take it and `DEL` to release it:
- the value is the same "1" for every holder, so a release cannot tell its own
  lock from the one a later request took after this one's 30 seconds ran out
  (the catalog's release_without_owner_check);
- the 30 seconds are fixed, whatever the lease the caller was promised
  (the trial's lock TTL): a holder that dies blocks its user for 30 s;
- a Redis error counts as "acquired": the request goes on without any lock
  (no_lock_when_redis_down);
- the caller retries in a fixed 2 s sleep loop with no deadline
  (wait_for_lock_forever).

The key prefix is the trial's (plan.lock.key_prefix) instead of "create_user:",
so that the harness's lock observer sees the commands.
"""

from __future__ import annotations

import logging

import redis
from orgquake import failpoint

log = logging.getLogger("py_openhands")

# The max possible time to wait for another process to finish creating a user.
REDIS_CREATE_TIMEOUT_SECONDS = 30
# The delay before a request that found the lock held tries again.
RETRY_LOAD_DELAY_SECONDS = 2


class UserCreationLock:
    def __init__(self, client: redis.Redis, key_prefix: str):
        self._redis = client
        self._prefix = key_prefix

    def acquire(self, user_id: str) -> bool:
        """True if the lock was taken, or if Redis is unavailable (go on without it)."""
        failpoint("lock.before_acquire")
        try:
            acquired = self._redis.set(self._prefix + user_id, 1, nx=True,
                                       ex=REDIS_CREATE_TIMEOUT_SECONDS)
        except redis.RedisError as error:
            log.warning("no redis for the user creation lock of %s, proceeding: %s",
                        user_id, error)
            return True  # proceed without locking if Redis is unavailable
        if acquired:
            failpoint("lock.after_acquire")
        return bool(acquired)

    def release(self, user_id: str) -> bool:
        """Deletes the lock, whoever holds it now; True if Redis is unavailable."""
        failpoint("lock.before_release")
        try:
            return bool(self._redis.delete(self._prefix + user_id))
        except redis.RedisError:
            return True  # nothing to release if Redis is unavailable
