"""The worker loop, driven over a real channel: ready, events, errors, reconnects, grants."""

import os
import subprocess
import unittest

from orgquake.conformance import Session, make_plan
from tests.support import PATIENCE_S, PYTHON, SDK_DIR, TESTS_DIR

SAMPLE = os.path.join(TESTS_DIR, "sample_worker.py")
ENVIRONMENT = {"PYTHONPATH": SDK_DIR, "PYTHONDONTWRITEBYTECODE": "1"}


def sample_plan(clients, gated=(), failpoints=""):
    """A plan whose ops are (kind, user) pairs, numbered across clients."""
    plan = make_plan(0, [[user for _, user in ops] for ops in clients],
                     gated=False)
    for client, ops in zip(plan["clients"], clients):
        for op, (kind, _) in zip(client["ops"], ops):
            op["kind"] = kind
    plan["gated_failpoints"] = list(gated)
    plan["failpoints"] = failpoints
    return plan


class WorkerSessionTest(unittest.TestCase):
    flavour = "threads"

    def start(self):
        session = Session([PYTHON, SAMPLE, self.flavour], ENVIRONMENT, None, PATIENCE_S)
        self.addCleanup(session.stop)
        return session

    def receive(self, session):
        status, message = session.receive()
        self.assertEqual(status, "message", f"worker log: {session.log_tail()}")
        return message

    def run_plan(self, plan, grant=lambda hit: "proceed"):
        """Every message up to done; answers each hit with grant(hit)."""
        session = self.start()
        plan["trial_start_ns"] = session.trial_start_ns
        session.send(plan)
        ready = self.receive(session)
        self.assertEqual(ready["t"], "ready")
        session.send({"t": "go"})
        messages = []
        while True:
            message = self.receive(session)
            messages.append(message)
            if message["t"] == "hit":
                session.send({"t": "grant", "id": message["id"], "action": grant(message)})
            if message["t"] in ("done", "error"):
                break
        self.assertEqual(messages[-1]["t"], "done")
        self.assertEqual(session.wait_exit(), 0)
        self.assertEqual(session.leftovers(), [])
        return ready, messages

    @staticmethod
    def completions(messages):
        return {m["event"]["op"]: m["event"] for m in messages
                if m["t"] == "event" and m["event"]["type"] in ("ok", "fail")}

    def test_describe_announces_the_declarations_in_order(self):
        session = self.start()
        session.send({"t": "describe", "protocol": 1})
        ready = self.receive(session)
        self.assertEqual(ready, {
            "t": "ready", "protocol": 1,
            "migrator": {"name": f"sample_{self.flavour}", "language": "python"},
            "operations": ["lookup", "migrate"],
            "failpoints": [{"name": "sample.after_lock",
                            "description": "the sample holds its pretend lock"},
                           {"name": "sample.before_return",
                            "description": "the sample is about to answer"}]})
        session.close_channel()
        self.assertEqual(session.wait_exit(), 0)

    def test_operations_report_values_errors_lock_waits_resets_and_reconnects(self):
        plan = sample_plan([
            [("lookup", "unknown"), ("lookup", "u1"), ("lookup", "flaky"), ("lookup", "u2"),
             ("lookup", "custom"), ("lookup", "unnamed"), ("migrate", "u3"), ("bogus", "u4")],
            [("lookup", "u5")],
        ])
        _, messages = self.run_plan(plan)
        done = self.completions(messages)
        values = {op: event["value"] for op, event in done.items()}
        self.assertEqual(values[0], {"error": "UnknownUser", "message": "no legacy user unknown",
                                     "definite": True, "lock_waits": 3})
        # A definite failure resets nothing.
        self.assertEqual(values[1], {"verified": True, "org_id": "org-u1", "migrated_here": False,
                                     "connects": 1, "resets": 0, "lock_waits": 3})
        self.assertEqual(values[2], {"error": "MigrationError", "definite": False, "lock_waits": 3,
                                     "message": "pretend Stripe answered 500 with a second line"})
        self.assertEqual(values[3]["resets"], 1)  # the MigrationError reset the client's state
        self.assertEqual((values[4]["error"], values[4]["definite"]), ("RedisUnavailable", False))
        self.assertEqual((values[5]["error"], values[5]["definite"]), ("Error", False))
        self.assertIn("NotAProtocolName", values[5]["message"])
        self.assertEqual(values[6], {"released": True, "org_id": "org-u3", "lock_waits": 0})
        self.assertEqual(values[7]["error"], "Error")
        self.assertIn("does not support operation kind 'bogus'", values[7]["message"])
        # Client 1's first connect failed; its op connected again and went on.
        self.assertEqual((values[8]["connects"], done[8]["client"]), (2, 1))
        for op, event in done.items():
            self.assertEqual((event["phase"], event["worker"]), ("run", 0))

    def test_failpoint_events_name_the_client_operation_and_armed_action(self):
        plan = sample_plan([[("lookup", "u1")], [("lookup", "u2")]],
                           failpoints="sample.before_return=1*sleep(1)")
        plan["clients"][1]["start_delay_ms"] = 200  # so that client 0 fires first
        _, messages = self.run_plan(plan)
        firings = [m["event"] for m in messages
                   if m["t"] == "event" and m["event"]["type"] == "failpoint"]
        self.assertEqual([(f["kind"], f["client"], f["op"], f["user"], f["value"]) for f in firings], [
            ("sample.after_lock", 0, 0, "u1", {"action": "off"}),
            ("sample.before_return", 0, 0, "u1", {"action": "sleep", "argument": "1"}),
            ("sample.after_lock", 1, 1, "u2", {"action": "off"}),
            ("sample.before_return", 1, 1, "u2", {"action": "off"}),
        ])
        # Between its invoke and its completion, each op's events are its own.
        order = [(m["event"]["type"], m["event"]["op"]) for m in messages if m["t"] == "event"]
        self.assertEqual(order, [("invoke", 0), ("failpoint", 0), ("failpoint", 0), ("ok", 0),
                                 ("invoke", 1), ("failpoint", 1), ("failpoint", 1), ("ok", 1)])

    def test_an_error_grant_fails_the_operation_with_injected_error(self):
        plan = sample_plan([[("lookup", "u1"), ("lookup", "u2")]],
                           gated=["sample.after_lock"])
        grants = iter(["error", "proceed"])
        _, messages = self.run_plan(plan, grant=lambda hit: next(grants))
        hits = [m for m in messages if m["t"] == "hit"]
        self.assertEqual([(h["id"], h["event"]["kind"], h["event"]["op"]) for h in hits],
                         [(0, "sample.after_lock", 0), (1, "sample.after_lock", 1)])
        done = self.completions(messages)
        self.assertEqual((done[0]["type"], done[0]["value"]["error"]), ("fail", "InjectedError"))
        self.assertEqual(done[1]["type"], "ok")

    def expect_error(self, first_message, fragment):
        session = self.start()
        if first_message.get("t") == "plan":
            first_message["trial_start_ns"] = session.trial_start_ns
        session.send(first_message)
        message = self.receive(session)
        self.assertEqual(message["t"], "error")
        self.assertIn(fragment, message["message"])
        self.assertEqual(session.wait_exit(), 2)

    def test_a_bad_plan_is_answered_with_an_error_naming_the_field(self):
        plan = sample_plan([[("lookup", "u1")]])
        plan["lock"]["ttl_ms"] = "soon"
        self.expect_error(plan, "bad worker plan: plan.lock.ttl_ms: expected an integer")

    def test_an_undeclared_failpoint_in_the_plan_is_an_error(self):
        plan = sample_plan([[("lookup", "u1")]],
                           failpoints="sample.after_lok=crash")
        self.expect_error(plan, 'unknown failpoint "sample.after_lok" (did you mean '
                                '"sample.after_lock"?)')

    def test_another_protocol_version_or_first_message_is_an_error(self):
        self.expect_error({"t": "describe", "protocol": 2}, "speaks orgquake protocol 1, not 2")
        self.expect_error({"t": "go", "protocol": 1}, "expected describe or plan first")

    def test_the_worker_exits_when_the_channel_closes(self):
        session = self.start()
        plan = sample_plan([[("lookup", "u1")]])
        plan["trial_start_ns"] = session.trial_start_ns
        session.send(plan)
        self.assertEqual(self.receive(session)["t"], "ready")
        session.close_channel()  # no go: the worker is waiting for it
        self.assertEqual(session.wait_exit(), 3)


class AsyncWorkerSessionTest(WorkerSessionTest):
    flavour = "asyncio"

    def test_a_sync_failpoint_gated_inside_the_event_loop_fails_its_operation(self):
        # Blocking there would stall every client of the loop; the operation
        # fails with a line that says what to write instead, and no hit is sent.
        plan = sample_plan([[("migrate", "u1")], [("lookup", "u2")]],
                           gated=["sample.after_lock"])
        _, messages = self.run_plan(plan)
        done = self.completions(messages)
        self.assertEqual((done[0]["type"], done[0]["value"]["error"]), ("fail", "Error"))
        self.assertIn("afailpoint", done[0]["value"]["message"])
        self.assertEqual(done[1]["type"], "ok")
        hits = [m["event"]["op"] for m in messages if m["t"] == "hit"]
        self.assertEqual(hits, [1])


class NotUnderOrgquakeTest(unittest.TestCase):
    def test_without_a_channel_the_worker_says_how_it_is_started_and_exits_2(self):
        env = {k: v for k, v in os.environ.items() if k != "ORGQUAKE_CHANNEL_FD"}
        env.update(ENVIRONMENT)
        result = subprocess.run([PYTHON, SAMPLE], env=env, capture_output=True, text=True,
                                timeout=PATIENCE_S, start_new_session=True)
        self.assertEqual(result.returncode, 2)
        self.assertIn("is an orgquake worker", result.stderr)
        self.assertIn("orgquake run --migrators FILE --migrator NAME", result.stderr)
        self.assertEqual(len(result.stderr.strip().splitlines()), 1)


if __name__ == "__main__":
    unittest.main()
