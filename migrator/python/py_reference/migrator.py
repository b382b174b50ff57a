"""PyReference: the orgquake worker's view of the reference migrator, as
worker/worker.cpp performs `lookup`, `migrate`, `serve` and `compensate` for the C++ one."""

from __future__ import annotations

import logging
import random

import orgquake
import redis
from orgquake import failpoint
from orgquake.context import current as current_operation
from orgquake.errors import InjectedError, LockTimeout, VerificationError
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from . import dual_path, prepared, stripe_billing
from .compensation import compensate_user
from .litellm_client import LiteLlmClient
from .lookup import check_strategy, load_user, verify
from .migrate_user import migrate_user
from .models import AppUser
from .redis_lock import LockScripts, RedisLock

log = logging.getLogger("py_reference")

# Every failpoint of migrator/failpoints/failpoint_list.hpp, same names, same
# order, same meaning, fired at the same steps.
FAILPOINTS = {
    "lookup.after_lock_acquire":
        "the lookup holds the user's Redis lock and has loaded nothing yet",
    "lookup.after_load":
        "the lookup has loaded the user with its org and memberships, before verifying them",
    "lookup.before_release":
        "the lookup is done with the user and is about to release the user's Redis lock",
    "lock.before_acquire": "about to send SET NX PX for the user's lock",
    "lock.after_acquire": "SET NX PX succeeded: this process holds the user's lock",
    "lock.before_release":
        "about to run the compare-and-delete script that releases the user's lock",
    "migrate.after_journal":
        "the retry record with the credits snapshot is committed; no external call made yet",
    "migrate.after_litellm_user_info":
        "LiteLLM GET /user/info answered with the user's budget and spend",
    "migrate.after_litellm_team_new":
        "LiteLLM POST /team/new created (or updated) the org's team with the remaining credits",
    "migrate.after_litellm_user_update": "LiteLLM POST /user/update lifted the user's own budget",
    "migrate.after_litellm_member_add":
        "LiteLLM POST /team/member_add put the user in the org's team",
    "migrate.after_litellm_key_move":
        "LiteLLM POST /key/update moved one of the user's keys to the team",
    "migrate.after_litellm_key_generate":
        "LiteLLM generated a new key because the stored one was refused with 401",
    "migrate.after_stripe_customer_update":
        "Stripe POST /v1/customers/{id} pointed the user's customer at the org",
    "migrate.after_stripe_subscription_update":
        "Stripe moved a subscription's metadata from the user to the org",
    "migrate.after_stripe_customer_create":
        "Stripe created a customer for a user who had none (Idempotency-Key from the org id)",
    "migrate.after_org_insert":
        "the personal org row is written in the migration's transaction, not committed",
    "migrate.before_commit":
        "every database write of the migration is in the open transaction, about to COMMIT",
    "migrate.after_commit":
        "the migration's transaction committed (the point of no return); the caller is not "
        "answered",
}

# Failures after which the C++ worker makes the client's connections afresh;
# the others (a lock timeout, a fenced commit, a failed verification, an
# injected error) leave them sound.
_SOUND_CONNECTIONS = (LockTimeout, VerificationError, InjectedError)


class ClientState:
    """One client's connections: its own PostgreSQL session (a pool of one),
    Redis connection, LiteLLM keep-alive client, and Stripe key."""

    def __init__(self, plan: orgquake.Plan, client: int):
        self.plan = plan
        self.client = client
        self.strategy = check_strategy(plan.lookup.strategy)
        self.fast_path = plan.lookup.fast_path
        self.lock_options = plan.lock
        self._client_rng = random.Random(f"{plan.seed}:{plan.worker}:{client}")
        self.rng = self._client_rng
        self.last_error: BaseException | None = None
        endpoints = plan.endpoints
        timeout_ms = endpoints.http_request_timeout_ms

        url = make_url(endpoints.postgres_url).set(drivername="postgresql+psycopg2")
        self.engine = create_engine(
            url,
            future=True,
            echo=False,
            # Every statement commits on its own, as libpq's do: no BEGIN/COMMIT
            # round trips around a lookup's one query, no transaction left open
            # across an HTTP call. The migration's one transaction is explicit
            # (transaction.py). Set once per connection: switching isolation per
            # checkout would cost psycopg2 a SET round trip each way.
            isolation_level="AUTOCOMMIT",
            pool_size=1,
            max_overflow=0,
            pool_timeout=10,
            pool_pre_ping=False,  # the fast path is one round trip
            connect_args={
                "connect_timeout": 5,
                # Named as its Redis connection is: a backend kill aimed at this
                # client finds its session by the name.
                "application_name": plan.connection_name(client),
                # A transaction must not outlive the lease it runs under: a holder
                # stalled mid-transaction would keep its row locks and block the
                # next holder in PostgreSQL long after Redis let it in. The server
                # ends such a session; the stalled holder's commit then fails.
                # A prepared lookup runs its generic plan from the first execution:
                # otherwise a session plans it afresh five times, in every trial
                # (sessions are reset between trials), all at once in a storm.
                "options": (f"-c idle_in_transaction_session_timeout={plan.lock.ttl_ms}"
                            " -c plan_cache_mode=force_generic_plan"),
            },
        )
        prepared.install(self.engine)
        self.autocommit = sessionmaker(bind=self.engine, future=True, autoflush=False,
                                       expire_on_commit=False)
        # The lookup's loads, prepared once per connection (prepared.py).
        self.lookups = sessionmaker(bind=self.engine.execution_options(**{prepared.OPTION: True}),
                                    future=True, autoflush=False, expire_on_commit=False)

        command_s = plan.lock.command_timeout_ms / 1000.0
        self.redis = redis.Redis.from_url(
            endpoints.redis_url,
            socket_timeout=command_s,
            socket_connect_timeout=command_s,
            max_connections=1,
            health_check_interval=0,
            # The harness attributes this client's lock commands by the name.
            client_name=plan.connection_name(client),
        )
        self.lock_scripts = LockScripts(self.redis)

        self.litellm = LiteLlmClient(endpoints.litellm_url, endpoints.litellm_master_key,
                                     timeout_ms, random.Random(2))
        stripe_billing.configure_process(endpoints.stripe_url, timeout_ms / 1000.0)
        self.stripe = stripe_billing.StripeBilling(endpoints.stripe_secret_key, random.Random(1))

    def begin_operation(self) -> None:
        """Each operation draws from its own stream of the worker's seed, as the C++ worker's
        context does, so that a replay makes the same choices whatever ran before."""
        operation = current_operation()
        if operation.op >= 0:
            # The user is in the stream too: a replacement key drawn from it must
            # never equal another user's, even if two workers share a seed.
            self.rng = random.Random(
                f"{self.plan.seed}:{self.plan.worker}:{operation.op}:{operation.user}")
        else:
            self.rng = self._client_rng
        self.last_error = None

    def warm_up(self) -> None:
        """Connects now (the controller starts no operation before every client is ready),
        and prepares the lookup's first statement."""
        with self.lookups() as session:
            load_user(session, "", self.strategy)
        self.redis.ping()

    def reconnect(self) -> None:
        """Drops every connection; the next use makes them afresh."""
        self.engine.dispose()
        self.redis.connection_pool.disconnect()
        self.litellm.close()
        self.litellm = LiteLlmClient(self.plan.endpoints.litellm_url,
                                     self.plan.endpoints.litellm_master_key,
                                     self.plan.endpoints.http_request_timeout_ms,
                                     random.Random(2))
        stripe_billing.close_thread_session()

    def lock(self) -> RedisLock:
        return RedisLock(self.redis, self.lock_scripts, self.lock_options,
                         random.Random(self.rng.getrandbits(64)))


class PyReference(orgquake.Migrator):
    name = "py_reference"
    language = "python"
    failpoints = FAILPOINTS
    operations = ("lookup", "migrate", "serve", "compensate")

    def connect(self, plan: orgquake.Plan, client: int) -> ClientState:
        state = ClientState(plan, client)
        try:
            state.warm_up()
        except Exception as error:  # noqa: BLE001 - each operation tries again, and fails visibly
            log.warning("client %d could not connect yet: %s", client, error)
        return state

    def lookup(self, state: ClientState, user: str) -> dict:
        state.begin_operation()
        try:
            loaded, migrated_here = get_user_verified(state, user)
        except BaseException as error:
            state.last_error = error
            raise
        value = {"verified": True, "migrated_here": migrated_here}
        if loaded.personal_org is not None:
            value["org_id"] = loaded.personal_org.id
        return value

    def migrate(self, state: ClientState, user: str) -> dict:
        """A backfill job: take the user's lock, migrate_user, release."""
        state.begin_operation()
        try:
            return backfill(state, user)
        except BaseException as error:
            state.last_error = error
            raise

    def serve(self, state: ClientState, user: str) -> dict:
        """A request of the application under rollout (dual_path.py): the rollout flag picks
        the legacy path or the org path (the verified lookup), and the other path's answers
        are compared where reading them changes nothing."""
        state.begin_operation()
        try:
            return dual_path.serve_request(state, user, get_user_verified).to_json()
        except BaseException as error:
            state.last_error = error
            raise

    def compensate(self, state: ClientState, user: str) -> dict:
        """After a restore of the database from a backup taken before the user's migration:
        undo the migration's external half in Stripe and LiteLLM (compensation.py)."""
        state.begin_operation()
        try:
            return {"undone": compensate_user(state, user)}
        except BaseException as error:
            state.last_error = error
            raise

    def reset(self, state: ClientState) -> None:
        error = state.last_error
        state.last_error = None
        if isinstance(error, _SOUND_CONNECTIONS):
            return
        state.reconnect()


def get_user_verified(state: ClientState, user_id: str):
    """Lock, load, verify (migrating first if need be): (LoadedUser, migrated_here)."""
    if state.fast_path:
        # Most requests are for migrated users: no lock for them.
        with state.lookups() as session:
            user = load_user(session, user_id, state.strategy)
        if user is not None:
            verify(user)
            return user, False
    lock = state.lock()
    found = None

    def migrated_meanwhile() -> bool:
        # The holder we waited for has most likely migrated the user: serve
        # it as the fast path would, instead of queueing for the lock.
        nonlocal found
        with state.lookups() as session:
            found = load_user(session, user_id, state.strategy)
        return found is not None

    lease = lock.acquire_unless(user_id, migrated_meanwhile if state.fast_path else None)
    if lease is None:
        verify(found)
        return found, False
    migrated_here = False
    try:
        failpoint("lookup.after_lock_acquire")
        with state.lookups() as session:
            user = load_user(session, user_id, state.strategy)
        if user is None:
            migrated_here = migrate_user(state, user_id, lease.fencing_token)
            with state.lookups() as session:
                user = load_user(session, user_id, state.strategy)
        failpoint("lookup.after_load")
        if user is None:
            raise VerificationError(
                f"user {user_id} failed verification (no_user): no app_user after migration")
        verify(user)
        return user, migrated_here
    finally:
        try:
            failpoint("lookup.before_release")
            lock.release(lease)
        except Exception:  # noqa: BLE001 - Redis gone or an injected error: the TTL ends the lease
            pass


def backfill(state: ClientState, user_id: str) -> dict:
    lock = state.lock()
    lease = lock.acquire(user_id)
    try:
        migrated_here = migrate_user(state, user_id, lease.fencing_token)
    except BaseException:
        lock.release(lease)
        raise
    released = lock.release(lease)
    value = {"released": released, "migrated_here": migrated_here}
    # The org the backfill left the user in, so that the same-org check
    # compares the batch path with the lookups it raced.
    with state.autocommit() as session:
        org_id = session.execute(
            select(AppUser.current_org_id).where(AppUser.legacy_user_id == user_id)
        ).scalar_one_or_none()
    if org_id is not None:
        value["org_id"] = str(org_id)
    return value
