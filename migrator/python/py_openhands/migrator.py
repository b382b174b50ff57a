"""PyOpenHands: the orgquake worker's view of OpenHands' UserStore.get_user_by_id.

Per request: one session; a joined load of the user (the fast path); if it is
missing, the user-creation lock in a fixed sleep loop, the load again, and
migrate_user if the legacy row is not migrated yet. The shapes, and the bugs
each carries, are listed in README.md.
"""

from __future__ import annotations

import logging
import random
import time

import orgquake
import redis
from orgquake import failpoint
from orgquake.errors import InjectedError, UnknownUser, VerificationError
from py_reference import stripe_billing
from py_reference.litellm_client import LiteLlmClient
from py_reference.lookup import load_user, verify
from py_reference.models import UserSettings
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from .migrate_user import migrate_user
from .user_creation_lock import RETRY_LOAD_DELAY_SECONDS, UserCreationLock

log = logging.getLogger("py_openhands")

# The failpoints of the reference's list (migrator/failpoints/failpoint_list.hpp)
# at the steps this code has; it has no journal, never moves a subscription and
# never creates a customer, so those three are not declared.
FAILPOINTS = {
    "lookup.after_lock_acquire": "the lookup holds the user-creation lock, before loading again",
    "lookup.after_load": "the lookup has loaded the user after taking the lock",
    "lookup.before_release": "the lookup is done and about to DEL the user-creation lock",
    "lock.before_acquire": "about to send SET NX EX 30 for the user-creation lock",
    "lock.after_acquire": "SET NX EX 30 succeeded",
    "lock.before_release": "about to DEL the user-creation lock (no owner check)",
    "migrate.after_litellm_user_info": "LiteLLM GET /user/info answered, before the guard",
    "migrate.after_litellm_team_new": "LiteLLM POST /team/new created the org's team",
    "migrate.after_litellm_user_update": "LiteLLM POST /user/update lifted the user's budget",
    "migrate.after_litellm_member_add": "LiteLLM POST /team/member_add added the user",
    "migrate.after_litellm_key_move": "LiteLLM POST /key/update moved the user's keys",
    "migrate.after_litellm_key_generate": "the stored key checked (and replaced if refused)",
    "migrate.after_stripe_customer_update": "Stripe POST /v1/customers/{id} set the org metadata",
    "migrate.after_org_insert": "the org row is flushed in the open transaction, not committed",
    "migrate.before_commit": "every row of the migration is in the open transaction",
    "migrate.after_commit": "the migration committed; the caller is not answered",
}

_SOUND_CONNECTIONS = (VerificationError, InjectedError, UnknownUser)


class ClientState:
    """One client: its SQLAlchemy engine (a pool of one, transactional sessions as
    OpenHands' session maker gives), its named Redis connection, LiteLLM, Stripe."""

    def __init__(self, plan: orgquake.Plan, client: int):
        self.plan = plan
        self.client = client
        self.last_error: BaseException | None = None
        endpoints = plan.endpoints
        url = make_url(endpoints.postgres_url).set(drivername="postgresql+psycopg2")
        self.engine = create_engine(
            url, future=True, pool_size=1, max_overflow=0, pool_timeout=10,
            connect_args={"connect_timeout": 5,
                          "application_name": f"py_openhands w{plan.worker} c{client}"})
        self.sessions = sessionmaker(bind=self.engine, future=True, expire_on_commit=False)
        command_s = plan.lock.command_timeout_ms / 1000.0
        self.redis = redis.Redis.from_url(
            endpoints.redis_url, socket_timeout=command_s, socket_connect_timeout=command_s,
            max_connections=1, health_check_interval=0,
            client_name=plan.redis_client_name(client))
        self.lock = UserCreationLock(self.redis, plan.lock.key_prefix)
        self._connect_http()

    def _connect_http(self) -> None:
        e = self.plan.endpoints
        self.litellm = LiteLlmClient(e.litellm_url, e.litellm_master_key,
                                     e.http_request_timeout_ms, random.Random(2))
        stripe_billing.configure_process(e.stripe_url, e.http_request_timeout_ms / 1000.0)
        self.stripe = stripe_billing.StripeBilling(e.stripe_secret_key, random.Random(1))

    def reconnect(self) -> None:
        self.engine.dispose()
        self.redis.connection_pool.disconnect()
        self.litellm.close()
        stripe_billing.close_thread_session()
        self._connect_http()


class PyOpenHands(orgquake.Migrator):
    name = "py_openhands"
    language = "python"
    failpoints = FAILPOINTS
    operations = ("lookup", "migrate")

    def connect(self, plan: orgquake.Plan, client: int) -> ClientState:
        state = ClientState(plan, client)
        try:
            with state.sessions() as session:
                load_user(session, "", "joined")
            state.redis.ping()
        except Exception as error:  # noqa: BLE001 - each operation tries again
            log.warning("client %d could not connect yet: %s", client, error)
        return state

    def lookup(self, state: ClientState, user: str) -> dict:
        return self._run(state, user, released_field=False)

    def migrate(self, state: ClientState, user: str) -> dict:
        """The backfill path OpenHands has: the same get_user_by_id, one user at a time."""
        return self._run(state, user, released_field=True)

    def _run(self, state: ClientState, user: str, released_field: bool) -> dict:
        state.last_error = None
        try:
            loaded, migrated_here = get_user_by_id(state, user)
        except BaseException as error:
            state.last_error = error
            raise
        value = {"verified": True, "migrated_here": migrated_here}
        if released_field:
            value["released"] = True
        if loaded.personal_org is not None:
            value["org_id"] = loaded.personal_org.id
        return value

    def reset(self, state: ClientState) -> None:
        error, state.last_error = state.last_error, None
        if not isinstance(error, _SOUND_CONNECTIONS):
            state.reconnect()


def get_user_by_id(state: ClientState, user_id: str):
    """(LoadedUser, migrated_here), verified; one session for the whole request."""
    with state.sessions() as session:
        user = load_user(session, user_id, "joined")
        if user is not None:
            verify(user)
            return user, False
        # The user is being created in another thread or process: wait, with no deadline.
        while not state.lock.acquire(user_id):
            orgquake.note_lock_wait()
            time.sleep(RETRY_LOAD_DELAY_SECONDS)
        try:
            failpoint("lookup.after_lock_acquire")
            # The migration could have happened while waiting for the lock.
            user = load_user(session, user_id, "joined")
            migrated_here = False
            if user is None:
                settings = session.execute(
                    select(UserSettings).where(UserSettings.user_id == user_id)
                ).scalar_one_or_none()
                if settings is None:
                    raise UnknownUser(f"no legacy user has the id {user_id}")
                if not settings.already_migrated:
                    migrate_user(state, session, settings)
                    migrated_here = True
                user = load_user(session, user_id, "joined")
            failpoint("lookup.after_load")
            if user is None:
                raise VerificationError(
                    f"user {user_id} failed verification (no_user): no app_user after migration")
            verify(user)
            return user, migrated_here
        finally:
            failpoint("lookup.before_release")
            state.lock.release(user_id)
