"""py_reference against real servers: embedded PostgreSQL and Redis
(`orgquake services up`) and the fake Stripe and LiteLLM, started by this
test and stopped by process group at its end.

    cd /work/main && /usr/bin/python3 -m unittest discover -s tests/python_migrators -v
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.parse
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "sdk" / "python"),
                str(HERE.parents[1] / "migrator" / "python")]

import psycopg2  # noqa: E402
import support  # noqa: E402
from orgquake import context, failpoints  # noqa: E402
from orgquake.errors import (  # noqa: E402
    FencedOut, InjectedError, LockTimeout, MigrationError, UnknownUser)
from orgquake.plan import Plan, redis_client_name  # noqa: E402
from sqlalchemy import event  # noqa: E402

from py_reference import lookup as lookup_module  # noqa: E402
from py_reference.migrate_user import migrate_user  # noqa: E402
from py_reference.migrator import FAILPOINTS, PyReference  # noqa: E402

SERVICES: support.Services | None = None
DATABASE_URL = ""


def setUpModule():
    global SERVICES, DATABASE_URL
    SERVICES = support.Services()
    DATABASE_URL = SERVICES.create_database(f"pyref_test_{os.getpid()}")


def tearDownModule():
    if SERVICES is not None:
        SERVICES.stop()


class Case(unittest.TestCase):
    counter = 0

    def setUp(self):
        Case.counter += 1
        self.tag = f"{os.getpid()}-{Case.counter}"
        self.users = support.make_users(self.tag)
        support.load_world(SERVICES, DATABASE_URL, self.users)
        self.migrator = PyReference()
        self.states = []
        self.prefix = f"pyref-test:{self.tag}"

    def plan(self, **options) -> Plan:
        return Plan.from_json(support.plan_json(SERVICES, DATABASE_URL, self.prefix, **options))

    def state(self, client=0, **options):
        state = self.migrator.connect(self.plan(**options), client)
        self.states.append(state)
        return state

    def tearDown(self):
        for state in self.states:
            state.reconnect()
            state.engine.dispose()
        failpoints.clear_all()

    def run_op(self, kind, state, user, op=1):
        """(value or None, error or None, lock_waits), inside an operation context."""
        operation = context.OperationContext(client=state.client, op=op, user=user)
        token = context.enter(operation)
        try:
            return getattr(self.migrator, kind)(state, user), None, operation.lock_waits
        except Exception as error:  # noqa: BLE001
            self.migrator.reset(state)
            return None, error, operation.lock_waits
        finally:
            context.leave(token)

    # -- what the invariants check, for one user ------------------------------------

    def sql(self, query, *args):
        connection = psycopg2.connect(DATABASE_URL)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(query, args)
                return cursor.fetchall()
        finally:
            connection.close()

    def assert_unmigrated(self, u: support.FixtureUser):
        self.assertEqual(self.sql("SELECT count(*) FROM org WHERE owner_user_id = %s",
                                  u.user_id), [(0,)])
        self.assertEqual(self.sql("SELECT already_migrated FROM user_settings WHERE user_id = %s",
                                  u.user_id), [(False,)])

    def assert_migrated(self, u: support.FixtureUser):
        org = u.user_id
        self.assertEqual(
            self.sql("SELECT id::text, name, kind, owner_user_id, contact_email FROM org "
                     "WHERE owner_user_id = %s", u.user_id),
            [(org, u.username, "personal", u.user_id, u.email)])
        self.assertEqual(self.sql("SELECT id::text, current_org_id::text, email FROM app_user "
                                  "WHERE legacy_user_id = %s", u.user_id), [(org, org, u.email)])
        members = self.sql("SELECT m.org_id::text, r.name, m.llm_api_key FROM org_member m "
                           "JOIN role r ON r.id = m.role_id WHERE m.user_id = %s", org)
        self.assertEqual(len(members), 1)
        self.assertEqual(members[0][:2], (org, "owner"))
        working_key = members[0][2]
        self.assertEqual(self.sql("SELECT count(*) FROM conversation_metadata_org "
                                  "WHERE org_id = %s AND user_id = %s", org, org),
                         [(u.conversations,)])
        self.assertEqual(self.sql("SELECT already_migrated FROM user_settings WHERE user_id = %s",
                                  u.user_id), [(True,)])
        customers = self.sql("SELECT stripe_customer_id, org_id::text FROM stripe_customers "
                             "WHERE user_id = %s", u.user_id)
        self.assertEqual(len(customers), 1, customers)
        customer, customer_org = customers[0]
        self.assertEqual(customer_org, org)
        if u.stripe_customer:
            self.assertEqual(customer, u.stripe_customer)  # the original id is kept
        s = SERVICES.stripe_url
        body = support.ok(support.http("GET", f"{s}/v1/customers/{customer}", support.STRIPE_KEY))
        self.assertEqual(body["metadata"].get("org_id"), org)
        self.assertNotIn("user_id", body["metadata"])
        created = [e for e in self.ledger(s)["objects"]
                   if e["kind"] == "created" and e["object_type"] == "customer"
                   and e["state"].get("metadata", {}).get("org_id") == org]
        self.assertEqual(len(created), 0 if u.stripe_customer else 1)
        if u.subscription:
            sub = support.ok(support.http("GET", f"{s}/v1/subscriptions/{u.subscription}",
                                          support.STRIPE_KEY))
            self.assertEqual(sub["metadata"], {"org_id": org})
        # LiteLLM: one team with the remaining credits, the user in it once, every key moved.
        l = SERVICES.litellm_url
        team = support.ok(support.http("GET", f"{l}/team/info?team_id={org}", support.LITELLM_KEY))
        self.assertEqual(team["team_info"]["max_budget"], u.remaining)
        members = [m for m in team["team_info"]["members_with_roles"] if m["user_id"] == u.user_id]
        if u.litellm_user:
            self.assertEqual(len(members), 1)
            self.assertEqual(members[0]["role"], "admin")
            info = support.ok(support.http("GET", f"{l}/user/info?user_id={u.user_id}",
                                           support.LITELLM_KEY))
            self.assertIsNone(info["user_info"]["max_budget"])
        keys = support.ok(support.http(
            "GET", f"{l}/key/list?user_id={u.user_id}&return_full_object=true&size=100",
            support.LITELLM_KEY))["keys"]
        generated = not u.stored_key or u.blocked_stored_key
        self.assertEqual(len(keys), len(u.keys) + (1 if generated else 0))
        self.assertTrue(all(k["team_id"] == org for k in keys), keys)
        if generated:
            self.assertNotEqual(working_key, u.stored_key)
            self.assertTrue(working_key.startswith("sk-"))
        else:
            self.assertEqual(working_key, u.stored_key)

    def ledger(self, url):
        return support.ok(support.http("GET", f"{url}/__orgquake/ledger", support.STRIPE_KEY))


class LookupTest(Case):
    def test_every_edge_case_migrates_once_then_takes_the_fast_path(self):
        state = self.state()
        for u in self.users:
            with self.subTest(user=u.username):
                value, error, waits = self.run_op("lookup", state, u.user_id)
                self.assertIsNone(error)
                self.assertEqual(value, {"verified": True, "org_id": u.user_id,
                                         "migrated_here": True})
                self.assertEqual(waits, 0)
                value, error, _ = self.run_op("lookup", state, u.user_id)
                self.assertEqual(value["migrated_here"], False)
                self.assert_migrated(u)

    def test_strategies_load_equal_users(self):
        state = self.state()
        for u in self.users[:4]:
            self.run_op("lookup", state, u.user_id)
            loaded = []
            for strategy in lookup_module.STRATEGIES:
                with state.autocommit() as session:
                    loaded.append(lookup_module.load_user(session, u.user_id, strategy))
            self.assertIsNotNone(loaded[0])
            self.assertEqual(loaded[0], loaded[1])
            self.assertEqual(loaded[0], loaded[2])
        with state.autocommit() as session:
            for strategy in lookup_module.STRATEGIES:
                self.assertIsNone(lookup_module.load_user(session, str(uuid.uuid4()), strategy))

    def test_fast_path_is_one_autocommitted_statement(self):
        for strategy, expected in (("joined", 1), ("selectin", 5), ("n_plus_one", None)):
            with self.subTest(strategy=strategy):
                state = self.state(strategy=strategy)
                u = self.users[0] if strategy == "joined" else self.users[3]
                self.run_op("lookup", state, u.user_id)
                seen = []

                def count(conn, cursor, statement, parameters, context_, executemany):
                    seen.append((statement, conn.connection.dbapi_connection.autocommit))

                event.listen(state.engine, "before_cursor_execute", count)
                try:
                    value, error, _ = self.run_op("lookup", state, u.user_id)
                finally:
                    event.remove(state.engine, "before_cursor_execute", count)
                self.assertIsNone(error)
                self.assertFalse(value["migrated_here"])
                if expected is not None:
                    self.assertEqual(len(seen), expected, seen)
                self.assertTrue(all(autocommit for _, autocommit in seen))  # no BEGIN sent

    def test_sessions_end_a_transaction_past_the_lease_and_plan_a_lookup_once(self):
        state = self.state()
        with state.engine.connect() as conn:
            self.assertEqual(conn.exec_driver_sql("SHOW plan_cache_mode").scalar(),
                             "force_generic_plan")
            self.assertNotEqual(
                conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar(), "0")

    def test_a_killed_backend_fails_one_lookup_and_the_next_reconnects(self):
        state = self.state()
        u = self.users[0]
        self.run_op("lookup", state, u.user_id)
        killed = self.sql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE application_name = 'orgquake:w0:c0' AND datname = "
                          "current_database()")
        self.assertEqual(killed, [(True,)])
        _, error, _ = self.run_op("lookup", state, u.user_id)
        self.assertIsNotNone(error)
        from orgquake.errors import classify
        self.assertEqual(classify(error)[0], "PgConnectionError")
        value, error, _ = self.run_op("lookup", state, u.user_id)
        self.assertIsNone(error, error)  # a new connection, its statements prepared again
        self.assertEqual(value["org_id"], u.user_id)

    def test_unmigrated_user_with_the_fast_path_off(self):
        state = self.state(fast_path=False, strategy="selectin")
        u = self.users[6]
        value, error, _ = self.run_op("lookup", state, u.user_id)
        self.assertIsNone(error)
        self.assertTrue(value["migrated_here"])
        value, error, _ = self.run_op("lookup", state, u.user_id)
        self.assertFalse(value["migrated_here"])
        self.assert_migrated(u)

    def test_unknown_user(self):
        state = self.state()
        _, error, _ = self.run_op("lookup", state, str(uuid.uuid4()))
        self.assertIsInstance(error, UnknownUser)

    def test_concurrent_duplicate_lookups_migrate_once(self):
        states = [self.state(client=i) for i in range(8)]
        targets = self.users[:4]
        results = []
        barrier = threading.Barrier(len(states))

        def client(i, state):
            barrier.wait()
            for u in targets:
                results.append((u.user_id, self.run_op("lookup", state, u.user_id, op=i)))

        threads = [threading.Thread(target=client, args=(i, s)) for i, s in enumerate(states)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for u in targets:
            mine = [r for uid, r in results if uid == u.user_id]
            self.assertTrue(all(error is None for _, error, _ in mine), mine)
            self.assertEqual({value["org_id"] for value, _, _ in mine}, {u.user_id})
            self.assertEqual(sum(value["migrated_here"] for value, _, _ in mine), 1)
            self.assert_migrated(u)

    def test_lock_timeout_counts_its_waits(self):
        state = self.state(max_wait_ms=100)
        u = self.users[0]
        state.redis.set(f"{self.prefix}:lock:user:{u.user_id}", "someone-else", px=10_000)
        _, error, waits = self.run_op("lookup", state, u.user_id)
        self.assertIsInstance(error, LockTimeout)
        self.assertGreater(waits, 1)
        self.assert_unmigrated(u)
        # Compare-and-delete: the lock is still the other holder's.
        self.assertEqual(state.redis.get(f"{self.prefix}:lock:user:{u.user_id}"), b"someone-else")


    def wait_through_a_release(self, done_before_release):
        """A holder holds a user's lock for 10 s; a waiter (slice 10 s, so
        only the socket's bound of 1 s ends a wait by the clock) waits for it
        while the test releases it after 50 ms, having said the work is done
        meanwhile if asked to. (waiter's outcome, the lock)"""
        u = self.users[0]
        holder = self.state(client=0, ttl_ms=10_000).lock()
        waiter = self.state(client=1, ttl_ms=10_000, max_wait_ms=3000).lock()
        waiter.wait_slice_ms = 10_000
        lease = holder.acquire(u.user_id)
        done = threading.Event()
        outcome = {}

        def wait():
            operation = context.OperationContext(client=1, op=2, user=u.user_id)
            token = context.enter(operation)
            try:
                outcome["lease"] = waiter.acquire_unless(u.user_id, done.is_set)
            except Exception as error:  # noqa: BLE001
                outcome["error"] = error
            finally:
                context.leave(token)
                outcome["waits"] = operation.lock_waits

        thread = threading.Thread(target=wait)
        thread.start()
        time.sleep(0.05)
        if done_before_release:
            done.set()
        self.assertTrue(holder.release(lease))
        thread.join()
        if outcome.get("lease") is not None:
            self.assertTrue(waiter.release(outcome["lease"]))
        return outcome, waiter

    def test_a_release_wakes_the_waiter_who_then_holds_the_lock(self):
        outcome, waiter = self.wait_through_a_release(False)
        self.assertNotIn("error", outcome)
        self.assertIsNotNone(outcome["lease"])
        self.assertEqual(outcome["waits"], 1)  # one held attempt, then the grant
        self.assertEqual(waiter.releases_seen, 1)  # woken by the release, not the clock

    def test_a_waiter_whose_work_was_done_meanwhile_returns_without_the_lock(self):
        outcome, waiter = self.wait_through_a_release(True)
        self.assertNotIn("error", outcome)
        self.assertIsNone(outcome["lease"])
        self.assertEqual(outcome["waits"], 1)
        self.assertEqual(waiter.releases_seen, 1)

    def test_lookups_waiting_on_a_migration_are_served_by_the_fast_path(self):
        # Eight lookups of one unmigrated user: one migrates under the lock;
        # each other waits for its release, finds the user migrated and is
        # served without taking the lock in turn.
        states = [self.state(client=i) for i in range(8)]
        u = self.users[0]
        results = []
        barrier = threading.Barrier(len(states))

        def client(i, state):
            barrier.wait()
            results.append(self.run_op("lookup", state, u.user_id, op=i))

        threads = [threading.Thread(target=client, args=(i, s)) for i, s in enumerate(states)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed_ms = (time.monotonic() - started) * 1000
        self.assertTrue(all(error is None for _, error, _ in results), results)
        self.assertEqual(sum(value["migrated_here"] for value, _, _ in results), 1)
        # A waiter is woken by the release, or by its 250 ms slice on a slow
        # machine: at most one wait per slice, and the one before the grant.
        # Blind polling every 2-25 ms would count one per 13 ms instead.
        bound = 2 + int(elapsed_ms // 250)
        self.assertLessEqual(max(waits for _, _, waits in results), bound, (elapsed_ms, results))
        self.assert_migrated(u)


class MigrationTest(Case):
    def test_stale_fencing_token_is_refused(self):
        state = self.state()
        u = self.users[6]
        self.sql("INSERT INTO migration_fence (user_id, token) VALUES (%s, 5) RETURNING 1",
                 u.user_id)
        state.begin_operation()
        with self.assertRaises(FencedOut):
            migrate_user(state, u.user_id, 4)
        self.assert_unmigrated(u)
        self.assertTrue(migrate_user(state, u.user_id, 6))
        self.assert_migrated(u)
        self.assertEqual(self.sql("SELECT token FROM migration_fence WHERE user_id = %s",
                                  u.user_id), [(6,)])

    def test_backfill_job(self):
        state = self.state()
        u = self.users[1]
        value, error, _ = self.run_op("migrate", state, u.user_id)
        self.assertIsNone(error)
        self.assertEqual(value, {"released": True, "migrated_here": True, "org_id": u.user_id})
        value, error, _ = self.run_op("migrate", state, u.user_id)
        self.assertEqual(value, {"released": True, "migrated_here": False, "org_id": u.user_id})
        self.assert_migrated(u)
        self.assertEqual(state.redis.get(f"{self.prefix}:lock:user:{u.user_id}"), None)

    def test_the_clients_redis_connection_carries_its_name(self):
        # The harness's lock observer attributes lock commands by this name.
        state = self.state()
        self.assertEqual(state.redis.client_getname(),
                         redis_client_name(state.plan.worker, state.client))

    def test_an_error_at_every_failpoint_then_a_retry_converges(self):
        state = self.state()
        names = [n for n in FAILPOINTS if n.startswith(("migrate.", "lock.after", "lookup.after"))]
        for i, name in enumerate(names):
            u = self.users[1] if name == "migrate.after_stripe_customer_create" else None
            fresh = support.make_users(f"{self.tag}-e{i}")
            support.load_world(SERVICES, DATABASE_URL, fresh)
            u = fresh[1] if name == "migrate.after_stripe_customer_create" else fresh[6]
            with self.subTest(failpoint=name):
                failpoints.arm(name, "1*return(boom)")
                _, error, _ = self.run_op("lookup", state, u.user_id)
                self.assertIsInstance(error, (InjectedError, MigrationError))
                self.assertIn("boom", str(error))
                failpoints.clear(name)
                value, error, _ = self.run_op("lookup", state, u.user_id)
                self.assertIsNone(error, error)
                committed_first = name in ("migrate.after_commit", "lookup.after_load")
                self.assertEqual(value["migrated_here"], not committed_first)
                self.assert_migrated(u)

    def test_http_faults_converge(self):
        state = self.state(timeout_ms=500)
        s, l = SERVICES.stripe_url, SERVICES.litellm_url
        faults = [
            (s, {"method": "POST", "path": "/v1/customers", "kind": "apply_then_reset"}),
            (s, {"method": "POST", "path": "/v1/customers/*", "kind": "apply_then_500"}),
            (s, {"method": "POST", "path": "/v1/subscriptions/*", "kind": "apply_then_hold"}),
            (l, {"method": "POST", "path": "/team/new", "kind": "apply_then_500"}),
            (l, {"method": "POST", "path": "/team/member_add", "kind": "apply_then_reset"}),
            (l, {"method": "POST", "path": "/key/generate", "kind": "apply_then_500"}),
            (l, {"method": "POST", "path": "/key/update", "kind": "status", "status": 503}),
        ]
        installed = []
        for url, spec in faults:
            spec = dict(spec, first=1)
            body = support.ok(support.http("POST", f"{url}/__orgquake/faults",
                                           support.STRIPE_KEY, body=spec))
            installed.append((url, body))
        try:
            for u in (self.users[1], self.users[4], self.users[6], self.users[3]):
                with self.subTest(user=u.username):
                    for attempt in range(4):
                        value, error, _ = self.run_op("lookup", state, u.user_id)
                        if error is None:
                            break
                    self.assertIsNone(error, error)
                    self.assert_migrated(u)
        finally:
            for url, _ in installed:
                support.http("DELETE", f"{url}/__orgquake/faults", support.STRIPE_KEY)


class ServeTest(Case):
    """The `serve` operation (docs/worker-protocol.md): the flag picks the path, the other
    path is compared where reading it changes nothing."""

    def set_flag(self, percentage=0, allow=()):
        return self.sql("UPDATE rollout_flag SET percentage = %s, allow_list = %s::text[], "
                        "version = version + 1 WHERE name = 'org_path' RETURNING version",
                        percentage, list(allow))[0][0]

    def tearDown(self):
        self.set_flag(0)
        super().tearDown()

    def legacy_answers(self, u, billing=None):
        return {"username": u.username, "email": u.email, "llm_model": "gpt-4o-mini",
                "user_version": 1, "settings": {}, "api_key": u.stored_key,
                "billing": billing if billing is not None else
                [u.stripe_customer] if u.stripe_customer else []}

    def test_the_legacy_path_migrates_nothing(self):
        state = self.state()
        version = self.set_flag(0)
        for u in self.users:
            with self.subTest(user=u.username):
                value, error, waits = self.run_op("serve", state, u.user_id)
                self.assertIsNone(error, error)
                self.assertEqual(value, {
                    "path": "legacy", "flag_version": version,
                    "answers": self.legacy_answers(u), "resumed": False, "compared": False,
                    "mismatches": [], "verified": True, "migrated_here": False})
                self.assertEqual(waits, 0)
                self.assert_unmigrated(u)

    def test_org_path_then_rollback_and_both_paths_agree(self):
        state = self.state()
        version = self.set_flag(100)
        org_answers = {}
        for u in self.users:
            with self.subTest(user=u.username, path="org"):
                value, error, _ = self.run_op("serve", state, u.user_id)
                self.assertIsNone(error, error)
                self.assertEqual(value["path"], "org")
                self.assertEqual(value["flag_version"], version)
                self.assertEqual(value["org_id"], u.user_id)
                self.assertTrue(value["migrated_here"])
                self.assertEqual((value["compared"], value["mismatches"]), (True, []))
                self.assertFalse(value["resumed"])
                self.assert_migrated(u)
                key = self.sql("SELECT llm_api_key FROM org_member WHERE user_id = %s",
                               u.user_id)[0][0]
                customers = [c for c, in self.sql("SELECT stripe_customer_id FROM "
                                                  "stripe_customers WHERE user_id = %s "
                                                  "ORDER BY id", u.user_id)]
                expected = dict(self.legacy_answers(u, customers), api_key=key)
                self.assertEqual(value["answers"], expected)
                org_answers[u.user_id] = expected
                again, error, _ = self.run_op("serve", state, u.user_id)
                self.assertIsNone(error, error)
                self.assertFalse(again["migrated_here"])
                self.assertEqual(again["answers"], expected)
        # The rollback: the legacy rows again, the org path compared, a replaced key no mismatch.
        version = self.set_flag(0)
        for u in self.users:
            with self.subTest(user=u.username, path="legacy"):
                value, error, _ = self.run_op("serve", state, u.user_id)
                self.assertIsNone(error, error)
                answers = dict(org_answers[u.user_id], api_key=u.stored_key)
                self.assertEqual(value, {
                    "path": "legacy", "flag_version": version, "answers": answers,
                    "resumed": False, "compared": True, "mismatches": [], "verified": True,
                    "migrated_here": False})

    def test_the_allow_list_and_the_percentage(self):
        from orgquake.rollout import rollout_bucket
        state = self.state()
        listed, other = self.users[2], self.users[3]
        self.set_flag(0, [listed.user_id])
        value, _, _ = self.run_op("serve", state, listed.user_id)
        self.assertEqual(value["path"], "org")
        value, _, _ = self.run_op("serve", state, other.user_id)
        self.assertEqual(value["path"], "legacy")
        self.assert_unmigrated(other)
        bucket = rollout_bucket(other.user_id)
        self.set_flag(bucket)
        value, _, _ = self.run_op("serve", state, other.user_id)
        self.assertEqual(value["path"], "legacy")
        self.set_flag(bucket + 1)
        value, _, _ = self.run_op("serve", state, other.user_id)
        self.assertEqual(value["path"], "org")

    def test_a_begun_migration_is_resumed_on_the_legacy_path(self):
        state = self.state()
        u = self.users[6]
        self.set_flag(100)
        failpoints.arm("migrate.after_litellm_team_new", "1*return(boom)")
        _, error, _ = self.run_op("serve", state, u.user_id)
        self.assertIsInstance(error, (InjectedError, MigrationError))
        failpoints.clear("migrate.after_litellm_team_new")
        self.assertEqual(self.sql("SELECT count(*) FROM migration_journal WHERE user_id = %s",
                                  u.user_id), [(1,)])
        self.assert_unmigrated(u)
        version = self.set_flag(0)
        value, error, _ = self.run_op("serve", state, u.user_id)
        self.assertIsNone(error, error)
        self.assertEqual((value["path"], value["flag_version"]), ("legacy", version))
        self.assertEqual((value["resumed"], value["migrated_here"]), (True, True))
        self.assertEqual((value["compared"], value["mismatches"]), (True, []))
        self.assertNotIn("org_id", value)
        self.assertEqual(value["answers"], self.legacy_answers(u))
        self.assert_migrated(u)
        value, _, _ = self.run_op("serve", state, u.user_id)
        self.assertEqual((value["resumed"], value["migrated_here"]), (False, False))

    def test_differences_the_migration_does_not_make_are_mismatches(self):
        state = self.state()
        u, someone = self.users[0], self.users[1]
        self.set_flag(100)
        self.run_op("serve", state, u.user_id)
        # A key that still works, replaced; a second customer billed to the org.
        self.sql("UPDATE org_member SET llm_api_key = 'sk-invented' WHERE user_id = %s "
                 "RETURNING 1", u.user_id)
        self.sql("INSERT INTO stripe_customers (user_id, org_id, stripe_customer_id) "
                 "VALUES (%s, %s, 'cus_stray') RETURNING 1", someone.user_id, u.user_id)
        value, error, _ = self.run_op("serve", state, u.user_id)
        self.assertIsNone(error, error)
        self.assertEqual(value["mismatches"], ["api_key", "billing"])
        self.set_flag(0)
        value, error, _ = self.run_op("serve", state, u.user_id)
        self.assertIsNone(error, error)
        self.assertEqual((value["path"], value["mismatches"]), ("legacy", ["api_key", "billing"]))

    def test_unknown_user(self):
        state = self.state()
        for percentage in (0, 100):
            with self.subTest(percentage=percentage):
                self.set_flag(percentage)
                _, error, _ = self.run_op("serve", state, str(uuid.uuid4()))
                self.assertIsInstance(error, UnknownUser)

    def test_every_statement_autocommits(self):
        state = self.state()
        seen = []

        def record(conn, cursor, statement, parameters, context_, executemany):
            seen.append((statement, conn.connection.dbapi_connection.autocommit))

        event.listen(state.engine, "before_cursor_execute", record)
        try:
            for percentage in (0, 100, 0):
                self.set_flag(percentage)
                value, error, _ = self.run_op("serve", state, self.users[4].user_id)
                self.assertIsNone(error, error)
        finally:
            event.remove(state.engine, "before_cursor_execute", record)
        self.assertTrue(seen)
        # Only the migration's own transaction says BEGIN.
        self.assertEqual(sum(s.strip().upper() == "BEGIN" for s, _ in seen), 1)
        self.assertTrue(all(autocommit for _, autocommit in seen))


class CompensationTest(Case):
    """The `compensate` operation (migrator/compensation.cpp): a user migrated, the database
    put back as a backup from before the migration has it, then compensated, ends where they
    began in both fakes."""

    def execute(self, query, *args):
        connection = psycopg2.connect(DATABASE_URL)
        try:
            with connection, connection.cursor() as cursor:
                cursor.execute(query, args)
        finally:
            connection.close()

    def restore_rows_of(self, u: support.FixtureUser):
        """restore_rows_of of tests/migrator/test_compensation.cpp: the org model's rows, the
        journal and the fence gone, the billing rows as they were, the legacy row unmigrated."""
        uid = u.user_id
        self.execute("DELETE FROM conversation_metadata_org WHERE user_id IN "
                     "(SELECT id FROM app_user WHERE legacy_user_id = %s)", uid)
        self.execute("DELETE FROM org_member WHERE user_id IN "
                     "(SELECT id FROM app_user WHERE legacy_user_id = %s)", uid)
        self.execute("DELETE FROM app_user WHERE legacy_user_id = %s", uid)
        self.execute("DELETE FROM org WHERE owner_user_id = %s", uid)
        self.execute("DELETE FROM migration_journal WHERE user_id = %s", uid)
        self.execute("DELETE FROM migration_fence WHERE user_id = %s", uid)
        if u.stripe_customer:
            self.execute("UPDATE stripe_customers SET org_id = NULL WHERE user_id = %s", uid)
        else:
            self.execute("DELETE FROM stripe_customers WHERE user_id = %s", uid)
        self.execute("UPDATE user_settings SET already_migrated = false WHERE user_id = %s", uid)

    def end_state(self, u: support.FixtureUser) -> dict:
        """What the fakes hold for the user and their org."""
        s, l, org = SERVICES.stripe_url, SERVICES.litellm_url, u.user_id
        state = {}
        if u.stripe_customer:
            state["customer"] = support.ok(support.http(
                "GET", f"{s}/v1/customers/{u.stripe_customer}", support.STRIPE_KEY))["metadata"]
        if u.subscription:
            state["subscription"] = support.ok(support.http(
                "GET", f"{s}/v1/subscriptions/{u.subscription}", support.STRIPE_KEY))["metadata"]
        if u.email:
            query = urllib.parse.urlencode({"email": u.email, "limit": 100})
            listed = support.ok(support.http("GET", f"{s}/v1/customers?{query}",
                                             support.STRIPE_KEY))["data"]
            state["customers_by_email"] = sorted((c["id"], json.dumps(c.get("metadata") or {},
                                                                      sort_keys=True))
                                                 for c in listed)
        status, _ = support.http("GET", f"{l}/team/info?team_id={org}", support.LITELLM_KEY)
        state["team_status"] = status
        status, info = support.http("GET", f"{l}/user/info?user_id={u.user_id}",
                                    support.LITELLM_KEY)
        state["user_status"] = status
        if status == 200:
            state["max_budget"] = info["user_info"]["max_budget"]
        keys = support.ok(support.http(
            "GET", f"{l}/key/list?user_id={u.user_id}&return_full_object=true&size=100",
            support.LITELLM_KEY))["keys"]
        state["keys"] = sorted((k["token"], k.get("team_id"), k.get("key_alias")) for k in keys)
        return state

    def test_a_restored_user_compensated_ends_where_they_began(self):
        state = self.state()
        s = SERVICES.stripe_url
        # subscription, no Stripe customer, zero budget, two keys, expired key, plain.
        for u in (self.users[6], self.users[1], self.users[2], self.users[3], self.users[4],
                  self.users[0]):
            with self.subTest(user=u.username):
                before = self.end_state(u)
                self.assertEqual(before["team_status"], 404)
                value, error, waits = self.run_op("compensate", state, u.user_id)
                self.assertIsNone(error, error)
                self.assertEqual(value, {"undone": False})  # unmigrated: nothing to undo
                self.assertEqual(self.end_state(u), before)

                value, error, _ = self.run_op("migrate", state, u.user_id)
                self.assertIsNone(error, error)
                self.assertTrue(value["migrated_here"])
                self.assert_migrated(u)
                migrated = self.end_state(u)
                self.assertNotEqual(migrated, before)
                created = None
                if not u.stripe_customer:
                    created = self.sql("SELECT stripe_customer_id FROM stripe_customers "
                                       "WHERE user_id = %s", u.user_id)[0][0]
                # A user the database calls migrated keeps what the migration did.
                value, error, _ = self.run_op("compensate", state, u.user_id)
                self.assertIsNone(error, error)
                self.assertEqual(value, {"undone": False})
                self.assertEqual(self.end_state(u), migrated)

                self.restore_rows_of(u)
                value, error, waits = self.run_op("compensate", state, u.user_id)
                self.assertIsNone(error, error)
                self.assertEqual(value, {"undone": True})
                self.assertEqual(waits, 0)
                self.assertEqual(self.end_state(u), before)
                if created is not None:
                    status, body = support.http("GET", f"{s}/v1/customers/{created}",
                                                support.STRIPE_KEY)
                    self.assertTrue(status == 404 or (body or {}).get("deleted"), (status, body))
                # Safe to repeat: nothing left to undo.
                value, error, _ = self.run_op("compensate", state, u.user_id)
                self.assertIsNone(error, error)
                self.assertEqual(value, {"undone": False})
                self.assertEqual(self.end_state(u), before)
                self.assertIsNone(state.redis.get(f"{self.prefix}:lock:user:{u.user_id}"))

    def test_an_unmigrated_user_and_an_unknown_user(self):
        state = self.state()
        u = self.users[7]  # never used LiteLLM
        before = self.end_state(u)
        value, error, _ = self.run_op("compensate", state, u.user_id)
        self.assertIsNone(error, error)
        self.assertEqual(value, {"undone": False})
        self.assertEqual(self.end_state(u), before)
        self.assert_unmigrated(u)
        _, error, _ = self.run_op("compensate", state, str(uuid.uuid4()))
        self.assertIsInstance(error, UnknownUser)

    def test_a_failing_step_is_a_migration_error_and_a_retry_converges(self):
        state = self.state(timeout_ms=500)
        u = self.users[6]
        before = self.end_state(u)
        self.run_op("migrate", state, u.user_id)
        self.restore_rows_of(u)
        l = SERVICES.litellm_url
        support.ok(support.http("POST", f"{l}/__orgquake/faults", support.STRIPE_KEY,
                                body={"method": "POST", "path": "/team/delete",
                                      "kind": "status", "status": 400, "first": 1}))
        try:
            _, error, _ = self.run_op("compensate", state, u.user_id)
        finally:
            support.http("DELETE", f"{l}/__orgquake/faults", support.STRIPE_KEY)
        self.assertIsInstance(error, MigrationError)
        self.assertIn("compensate.litellm", str(error))
        value, error, _ = self.run_op("compensate", state, u.user_id)
        self.assertIsNone(error, error)
        self.assertEqual(value, {"undone": True})
        self.assertEqual(self.end_state(u), before)


class CrashTest(Case):
    """A real SIGKILL at each failpoint of a lookup, then a fresh client recovers."""

    def test_sigkill_at_every_failpoint(self):
        ttl = 300
        plan = support.plan_json(SERVICES, DATABASE_URL, self.prefix, ttl_ms=ttl)
        env = dict(os.environ, PYTHONPATH=support.PYTHONPATH)
        env.pop("ORGQUAKE_CHANNEL_FD", None)
        state = self.state(ttl_ms=ttl)
        for i, name in enumerate(FAILPOINTS):
            fresh = support.make_users(f"{self.tag}-c{i}")
            support.load_world(SERVICES, DATABASE_URL, fresh)
            u = fresh[1] if name == "migrate.after_stripe_customer_create" else fresh[6]
            with self.subTest(failpoint=name):
                process = subprocess.run(
                    [sys.executable, str(HERE / "run_one.py"), json.dumps(plan), "lookup",
                     u.user_id],
                    env=dict(env, ORGQUAKE_FAILPOINTS=f"{name}=crash"), capture_output=True,
                    text=True, timeout=60)
                self.assertEqual(process.returncode, -signal.SIGKILL, process.stderr)
                value, error, _ = self.run_op("lookup", state, u.user_id)
                self.assertIsNone(error, error)
                self.assertEqual(value["org_id"], u.user_id)
                self.assert_migrated(u)


class ProtocolTest(Case):
    """The worker itself over the channel: a plan of lookups and backfills, one
    gated failpoint granted `crash`."""

    def test_worker_runs_a_plan(self):
        users = self.users
        clients = [
            {"start_delay_ms": 0, "ops": [{"op": 10 * c + i, "kind": kind, "user": u.user_id}
                                          for i, (kind, u) in enumerate(
                                              [("lookup", users[0]), ("migrate", users[1]),
                                               ("lookup", users[1]), ("lookup", users[6])])]}
            for c in range(3)]
        plan = support.plan_json(SERVICES, DATABASE_URL, self.prefix, clients=clients,
                                 gated=["migrate.before_commit"])
        events, process = run_worker(plan, grant="proceed")
        self.assertEqual(process.returncode, 0)
        ends = [e for e in events if e["type"] in ("ok", "fail", "info")]
        self.assertEqual(len(ends), 12)
        self.assertTrue(all(e["type"] == "ok" for e in ends), ends)
        for u in (users[0], users[1], users[6]):
            self.assert_migrated(u)
            mine = [e for e in ends if e["user"] == u.user_id]
            self.assertEqual({e["value"]["org_id"] for e in mine}, {u.user_id})
        self.assertEqual(sum(e["value"].get("migrated_here", False) for e in ends
                             if e["user"] == users[0].user_id), 1)

    def test_crash_grant_kills_the_worker(self):
        u = self.users[6]
        clients = [{"start_delay_ms": 0, "ops": [{"op": 1, "kind": "lookup", "user": u.user_id}]}]
        plan = support.plan_json(SERVICES, DATABASE_URL, self.prefix, clients=clients,
                                 gated=["migrate.before_commit"], ttl_ms=300)
        events, process = run_worker(plan, grant="crash")
        self.assertEqual(process.returncode, -signal.SIGKILL)
        self.assert_unmigrated(u)
        state = self.state(ttl_ms=300)
        value, error, _ = self.run_op("lookup", state, u.user_id)
        self.assertIsNone(error)
        self.assertTrue(value["migrated_here"])
        self.assert_migrated(u)


def run_worker(plan, grant):
    """Plays the controller for one plan: (events, finished process)."""
    import socket
    ours, theirs = socket.socketpair()
    fd = theirs.fileno()
    env = dict(os.environ, PYTHONPATH=support.PYTHONPATH, ORGQUAKE_CHANNEL_FD=str(fd),
               ORGQUAKE_PROTOCOL="1")
    process = subprocess.Popen(
        ["/usr/bin/python3", "-m", "py_reference"], cwd=support.ROOT / "migrator" / "python",
        env=env, pass_fds=(fd,), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    theirs.close()
    reader = ours.makefile("rb")
    events = []

    def send(message):
        ours.sendall((json.dumps(message) + "\n").encode())

    try:
        send(plan)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = reader.readline()
            if not line:
                break
            message = json.loads(line)
            if message["t"] == "ready":
                send({"t": "go"})
            elif message["t"] == "event":
                events.append(message["event"])
            elif message["t"] == "hit":
                events.append(message["event"])
                send({"t": "grant", "id": message["id"], "action": grant})
            elif message["t"] == "done":
                break
            elif message["t"] == "error":
                raise AssertionError(message)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        output = process.stdout.read().decode(errors="replace")
        process.stdout.close()
        ours.close()
        reader.close()
        if output.strip():
            sys.stderr.write(f"worker log:\n{output}\n")
    return events, process


if __name__ == "__main__":
    unittest.main()
