"""py_openhands against real servers: it migrates users when nothing goes
wrong, and it has, on purpose, each shape of the OpenHands code that its
README maps to a bug class of the catalog. Each test shows one shape doing
what the real code does.

    cd /work/main && /usr/bin/python3 -m unittest discover -s tests/python_migrators -p 'test_py_openhands.py' -v
"""

from __future__ import annotations

import os
import socket
import sys
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "sdk" / "python"),
                str(HERE.parents[1] / "migrator" / "python")]

import psycopg2  # noqa: E402
import redis  # noqa: E402
import support  # noqa: E402
from orgquake import context, failpoints  # noqa: E402
from orgquake.errors import InjectedError  # noqa: E402
from orgquake.plan import Plan  # noqa: E402

from py_openhands.migrator import PyOpenHands  # noqa: E402
from py_openhands.user_creation_lock import REDIS_CREATE_TIMEOUT_SECONDS  # noqa: E402

SERVICES: support.Services | None = None
DATABASE_URL = ""


def setUpModule():
    global SERVICES, DATABASE_URL
    SERVICES = support.Services()
    DATABASE_URL = SERVICES.create_database(f"pyoh_test_{os.getpid()}")


def tearDownModule():
    if SERVICES is not None:
        SERVICES.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Case(unittest.TestCase):
    counter = 0

    def setUp(self):
        Case.counter += 1
        self.tag = f"oh{os.getpid()}-{Case.counter}"
        self.users = support.make_users(self.tag)
        support.load_world(SERVICES, DATABASE_URL, self.users)
        self.migrator = PyOpenHands()
        self.states = []
        self.prefix = f"pyoh-test:{self.tag}"
        self.redis = redis.Redis.from_url(SERVICES.redis_url)

    def tearDown(self):
        for state in self.states:
            state.reconnect()
            state.engine.dispose()
        failpoints.clear_all()
        self.redis.close()

    def state(self, redis_url=None):
        plan = support.plan_json(SERVICES, DATABASE_URL, self.prefix)
        if redis_url is not None:
            plan["endpoints"]["redis_url"] = redis_url
        state = self.migrator.connect(Plan.from_json(plan), 0)
        self.states.append(state)
        return state

    def lookup(self, state, user, op=1):
        operation = context.OperationContext(client=0, op=op, user=user)
        token = context.enter(operation)
        try:
            return self.migrator.lookup(state, user), None
        except Exception as error:  # noqa: BLE001
            self.migrator.reset(state)
            return None, error
        finally:
            context.leave(token)

    def sql(self, query, *args):
        connection = psycopg2.connect(DATABASE_URL)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(query, args)
                return cursor.fetchall()
        finally:
            connection.close()

    def litellm(self, path):
        return support.ok(support.http("GET", SERVICES.litellm_url + path, support.LITELLM_KEY))

    def stripe(self, path):
        return support.ok(support.http("GET", SERVICES.stripe_url + path, support.STRIPE_KEY))

    def assert_org_with_owner(self, u):
        self.assertEqual(self.sql(
            "SELECT o.kind, r.name FROM org o JOIN org_member m ON m.org_id = o.id "
            "JOIN role r ON r.id = m.role_id WHERE o.owner_user_id = %s", u.user_id),
            [("personal", "owner")])
        self.assertEqual(self.sql("SELECT already_migrated FROM user_settings WHERE user_id = %s",
                                  u.user_id), [(True,)])


class MigrationTest(Case):
    def test_every_user_migrates_once_then_takes_the_fast_path(self):
        state = self.state()
        for u in self.users:
            with self.subTest(user=u.username):
                value, error = self.lookup(state, u.user_id)
                self.assertIsNone(error, error)
                self.assertEqual((value["org_id"], value["migrated_here"]), (u.user_id, True))
                self.assert_org_with_owner(u)
                value, error = self.lookup(state, u.user_id, op=2)
                self.assertIsNone(error, error)
                self.assertFalse(value["migrated_here"])
                if u.litellm_user:
                    keys = self.litellm(f"/key/list?user_id={u.user_id}&return_full_object=true")
                    # An unlimited legacy budget passes the guard for "already
                    # migrated": that user's keys stay on the user (README.md).
                    team = None if u.max_budget is None else u.user_id
                    self.assertTrue(all(k["team_id"] == team for k in keys["keys"]), keys)
        self.assertEqual(self.redis.keys(f"{self.prefix}:lock:*"), [])


class ShapeTest(Case):
    """Each shape the README lists, seen doing what the OpenHands code does."""

    def test_the_lock_is_set_nx_ex_30_whatever_the_plans_ttl(self):
        state = self.state()
        u = self.users[0]
        self.assertTrue(state.lock.acquire(u.user_id))
        key = state.plan.lock.key_prefix + u.user_id
        self.assertEqual(self.redis.get(key), b"1")
        self.assertGreater(self.redis.ttl(key), REDIS_CREATE_TIMEOUT_SECONDS - 2)
        self.assertFalse(state.lock.acquire(u.user_id))  # plan.lock.ttl_ms is 1000

    def test_release_deletes_a_lock_another_request_holds(self):
        state = self.state()
        key = state.plan.lock.key_prefix + self.users[0].user_id
        self.redis.set(key, "someone-else", px=60000)
        state.lock.release(self.users[0].user_id)
        self.assertIsNone(self.redis.get(key))

    def test_with_redis_down_it_migrates_without_any_lock(self):
        state = self.state(redis_url=f"redis://127.0.0.1:{closed_port()}/0")
        u = self.users[0]
        value, error = self.lookup(state, u.user_id)
        self.assertIsNone(error, error)
        self.assertTrue(value["migrated_here"])
        self.assert_org_with_owner(u)

    def test_a_retry_after_the_budget_lift_leaves_the_keys_on_the_user(self):
        state = self.state()
        u = self.users[3]  # two keys
        failpoints.arm("migrate.after_litellm_user_update", "1*return(boom)")
        _, error = self.lookup(state, u.user_id)
        self.assertIsInstance(error, InjectedError)
        failpoints.clear("migrate.after_litellm_user_update")
        value, error = self.lookup(state, u.user_id, op=2)
        self.assertIsNone(error, error)
        self.assertTrue(value["migrated_here"])  # the database says migrated...
        self.assert_org_with_owner(u)
        keys = self.litellm(f"/key/list?user_id={u.user_id}&return_full_object=true")["keys"]
        self.assertEqual(len(keys), 2)
        self.assertTrue(all(k["team_id"] is None for k in keys), keys)  # ...the keys never moved
        team = self.litellm(f"/team/info?team_id={u.user_id}")["team_info"]
        self.assertEqual([m for m in team["members_with_roles"] if m["user_id"] == u.user_id],
                         [])

    def test_subscriptions_keep_naming_the_user(self):
        state = self.state()
        u = self.users[6]  # a customer with a subscription
        _, error = self.lookup(state, u.user_id)
        self.assertIsNone(error, error)
        customer = self.stripe(f"/v1/customers/{u.stripe_customer}")
        self.assertEqual(customer["metadata"].get("org_id"), u.user_id)
        subscription = self.stripe(f"/v1/subscriptions/{u.subscription}")
        self.assertEqual(subscription["metadata"], {"user_id": u.user_id})


if __name__ == "__main__":
    unittest.main()
