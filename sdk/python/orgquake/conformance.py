#!/usr/bin/env python3
"""The conformance test: plays the orgquake controller against a worker command.

    /usr/bin/python3 sdk/python/orgquake/conformance.py [--timeout S] -- COMMAND ARGS...

It checks docs/worker-protocol.md's rules with `echo` operations only, so no
server is needed, and exits 0 when every rule holds, else 1 with one line per
broken rule. It imports nothing from the SDK: it is the SDK's independent judge.
Every wait is bounded, and the worker's process group is killed at the end of
each session whatever happens.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

PROTOCOL_VERSION = 1
DEFAULT_TIMEOUT_S = 10.0
MAX_LINE_BYTES = 1 << 20
ECHO_FAILPOINT = "protocol.echo"
# How long the worker must stay silent between ready and go.
QUIET_WINDOW_S = 0.2
ERROR_NAMES = frozenset({
    "LockTimeout", "FencedOut", "UnknownUser", "VerificationError", "RedisUnavailable",
    "MigrationError", "InjectedError", "PgConnectionError", "PgError", "HttpError", "Error",
})
WORKER_MESSAGES = frozenset({"ready", "event", "hit", "done", "error"})
FAILPOINT_NAME = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+\Z")
PR_SET_PDEATHSIG = 1

# Unreachable ports: echo touches no server, and a worker that connects anyway
# must cope with a refusal (every op of that client then fails, but echo must not).
DUMMY_ENDPOINTS = {
    "postgres_url": "postgresql://orgquake@127.0.0.1:9/orgquake_conformance?sslmode=disable",
    "redis_url": "redis://127.0.0.1:9/0",
    "stripe_url": "http://127.0.0.1:9", "stripe_secret_key": "sk_test_orgquake",
    "litellm_url": "http://127.0.0.1:9", "litellm_master_key": "sk-orgquake-master",
    "http_request_timeout_ms": 1000,
}
DUMMY_LOCK = {
    "ttl_ms": 1000, "max_wait_ms": 1000, "retry_min_ms": 2, "retry_max_ms": 25,
    "command_timeout_ms": 1000, "key_prefix": "orgquake:conformance:lock:user:",
    "fence_prefix": "orgquake:conformance:fence:user:",
}


def make_plan(trial_start_ns: int, clients: list[list[str]], gated: bool,
              delays_ms: list[int] | None = None, protocol: int = PROTOCOL_VERSION,
              migrator: str = "conformance") -> dict:
    """A plan of echo operations; `clients` lists each client's users."""
    plan_clients = []
    next_op = 0
    for index, users in enumerate(clients):
        ops = []
        for user in users:
            ops.append({"op": next_op, "kind": "echo", "user": user})
            next_op += 1
        delay = delays_ms[index] if delays_ms else 0
        plan_clients.append({"start_delay_ms": delay, "ops": ops})
    return {
        "t": "plan", "protocol": protocol, "worker": 0, "phase": "run", "seed": 1234,
        "migrator": migrator, "trial_start_ns": trial_start_ns,
        "endpoints": dict(DUMMY_ENDPOINTS), "lock": dict(DUMMY_LOCK),
        "lookup": {"strategy": "joined", "fast_path": True},
        "failpoints": "", "gated_failpoints": [ECHO_FAILPOINT] if gated else [],
        "clients": plan_clients,
    }


def _die_with_parent() -> None:
    # As the controller does: nothing outlives a dead conformance run.
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def processes_in_group(group: int) -> list[int]:
    """The PIDs whose process group is `group`, read from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == group:
            found.append(int(entry))
    return found


class Session:
    """One worker process and its channel, as the controller holds them."""

    def __init__(self, command: list[str], env: dict | None, cwd: str | None, timeout: float):
        self.timeout = timeout
        self.trial_start_ns = time.monotonic_ns()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.channel = ours
        self.inbox = bytearray()
        self.log = tempfile.TemporaryFile()
        child_env = dict(os.environ)
        child_env.update(env or {})
        child_env["ORGQUAKE_CHANNEL_FD"] = "3"
        child_env["ORGQUAKE_PROTOCOL"] = str(PROTOCOL_VERSION)
        their_fd = theirs.fileno()

        def in_child():
            # The channel is fd 3; dup2 leaves the copy inheritable across exec.
            if their_fd != 3:
                os.dup2(their_fd, 3)
            else:
                os.set_inheritable(3, True)
            _die_with_parent()

        try:
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
                env=child_env, cwd=cwd, close_fds=False, preexec_fn=in_child,
                start_new_session=True)
        finally:
            theirs.close()
        self.group = self.process.pid  # start_new_session: the worker leads its group

    def elapsed_ns(self) -> int:
        return time.monotonic_ns() - self.trial_start_ns

    def send(self, message: dict) -> bool:
        try:
            self.channel.sendall(json.dumps(message).encode() + b"\n")
            return True
        except OSError:
            return False

    def receive(self, seconds: float | None = None):
        """("message", dict), ("eof", None), ("timeout", None) or ("bad", why)."""
        deadline = time.monotonic() + (self.timeout if seconds is None else seconds)
        while True:
            end = self.inbox.find(b"\n")
            if end >= 0:
                line = bytes(self.inbox[:end])
                del self.inbox[: end + 1]
                return self._parse(line)
            if len(self.inbox) > MAX_LINE_BYTES:
                return ("bad", "a line longer than 1 MiB")
            left = deadline - time.monotonic()
            if left <= 0:
                return ("timeout", None)
            self.channel.settimeout(left)
            try:
                chunk = self.channel.recv(64 * 1024)
            except socket.timeout:
                return ("timeout", None)
            except OSError:
                chunk = b""
            if not chunk:
                return ("bad", "a last line without '\\n'") if self.inbox else ("eof", None)
            self.inbox += chunk

    @staticmethod
    def _parse(line: bytes):
        if len(line) > MAX_LINE_BYTES:
            return ("bad", "a line longer than 1 MiB")
        try:
            message = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            return ("bad", f"a line that is not JSON: {line[:80]!r}")
        if not isinstance(message, dict):
            return ("bad", f"a JSON line that is not an object: {line[:80]!r}")
        if message.get("t") not in WORKER_MESSAGES:
            return ("bad", f"a message of unknown type {message.get('t')!r}")
        return ("message", message)

    def close_channel(self) -> None:
        try:
            self.channel.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def wait_exit(self) -> int | None:
        """The exit status (negative: killed by that signal), or None after the timeout."""
        try:
            return self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            return None

    def leftovers(self) -> list[int]:
        """Processes still in the worker's group after it exited (and was reaped)."""
        return processes_in_group(self.group)

    def log_tail(self) -> str:
        self.log.seek(0)
        lines = self.log.read().decode("utf-8", "replace").strip().splitlines()
        return lines[-1][:200] if lines else ""

    def stop(self) -> None:
        """Kills the whole process group and reaps the worker, whatever state it is in."""
        try:
            os.killpg(self.group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            pass
        self.channel.close()
        self.log.close()


def check_ready(message: dict) -> list[str]:
    """The problems of a ready message's shape."""
    problems = []
    if message.get("t") != "ready":
        return [f"expected ready, got {message.get('t')!r}"]
    if type(message.get("protocol")) is not int or message["protocol"] != PROTOCOL_VERSION:
        problems.append(f"ready has protocol {message.get('protocol')!r}, not 1")
    migrator = message.get("migrator")
    if not (isinstance(migrator, dict) and isinstance(migrator.get("name"), str)
            and migrator["name"] and isinstance(migrator.get("language"), str)):
        problems.append("ready's migrator is not {\"name\": string, \"language\": string}")
    operations = message.get("operations")
    if not (isinstance(operations, list) and all(isinstance(k, str) for k in operations)):
        problems.append("ready's operations is not a list of strings")
    declared = message.get("failpoints")
    if not isinstance(declared, list):
        return problems + ["ready's failpoints is not a list"]
    names = set()
    for entry in declared:
        if not (isinstance(entry, dict) and isinstance(entry.get("name"), str)
                and isinstance(entry.get("description"), str)):
            problems.append(f"ready declares a failpoint that is not {{name, description}}: {entry!r}")
            continue
        name = entry["name"]
        if not FAILPOINT_NAME.match(name):
            problems.append(f"ready declares failpoint {name!r}, not named area.step")
        if name in names:
            problems.append(f"ready declares failpoint {name} twice")
        if name == ECHO_FAILPOINT:
            problems.append(f"ready declares the reserved failpoint {ECHO_FAILPOINT}")
        names.add(name)
    return problems


def declared_names(ready: dict) -> set[str]:
    entries = ready.get("failpoints") if isinstance(ready.get("failpoints"), list) else []
    return {e["name"] for e in entries if isinstance(e, dict) and isinstance(e.get("name"), str)}


class HistoryChecker:
    """Checks the events and hits of one plan session as they arrive."""

    def __init__(self, session: Session, plan: dict, declared: set[str], gated: bool):
        self.session = session
        self.plan = plan
        self.declared = declared
        self.gated = gated
        self.problems: list[str] = []
        self.client_of = {}
        self.user_of = {}
        for index, client in enumerate(plan["clients"]):
            for op in client["ops"]:
                self.client_of[op["op"]] = index
                self.user_of[op["op"]] = op["user"]
        self.next_index = [0] * len(plan["clients"])  # next op of each client, in plan order
        self.open_op = [None] * len(plan["clients"])
        self.echo_firings = {op: 0 for op in self.client_of}
        self.completions: dict[int, dict] = {}
        self.hit_ids = set()
        self.go_ns = None

    def broken(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)

    def check_time(self, event: dict) -> None:
        time_ns = event.get("time_ns")
        if type(time_ns) is not int:
            self.broken(f"an event's time_ns is not an integer: {event!r:.120}")
            return
        # The worker took the time before sending; ours is later on the same clock.
        if not 0 <= time_ns <= self.session.elapsed_ns() + 1_000_000:
            self.broken("time_ns is not CLOCK_MONOTONIC minus trial_start_ns "
                        f"({time_ns} outside 0..{self.session.elapsed_ns()})")

    def on_event(self, event) -> None:
        if not isinstance(event, dict):
            self.broken("an event message's event is not an object")
            return
        kind = event.get("type")
        self.check_time(event)
        if kind == "failpoint":
            if self.gated and event.get("kind") == ECHO_FAILPOINT:
                self.broken(f"gated {ECHO_FAILPOINT} was reported as an event, not a hit")
            self.on_firing(event)
        elif kind == "invoke":
            self.on_invoke(event)
        elif kind in ("ok", "fail", "info"):
            self.on_completion(event)
        else:
            self.broken(f"an event of unknown type {kind!r}")

    def on_hit(self, message: dict) -> None:
        hit_id = message.get("id")
        if type(hit_id) is not int:
            self.broken("a hit's id is not an integer")
        elif hit_id in self.hit_ids:
            self.broken(f"hit id {hit_id} was used twice")
        self.hit_ids.add(hit_id)
        event = message.get("event")
        if not isinstance(event, dict) or event.get("type") != "failpoint":
            self.broken("a hit's event is not a failpoint event")
            return
        self.check_time(event)
        if not self.gated:
            self.broken(f"a hit for the ungated failpoint {event.get('kind')!r}")
        self.on_firing(event)

    def on_firing(self, event: dict) -> None:
        name = event.get("kind")
        value = event.get("value")
        if not (isinstance(value, dict) and isinstance(value.get("action"), str)):
            self.broken(f"failpoint {name}: value is not {{\"action\": string}}")
        client, op = event.get("client"), event.get("op")
        if type(client) is not int or type(op) is not int:
            self.broken(f"failpoint {name}: client and op are not integers")
            return
        if name != ECHO_FAILPOINT:
            if name not in self.declared:
                self.broken(f"reported failpoint {name!r}, which ready did not declare")
            return
        if not 0 <= client < len(self.open_op) or self.open_op[client] != op:
            self.broken(f"{ECHO_FAILPOINT} fired as client {client} op {op}, "
                        "which is not an operation running on that client")
            return
        if event.get("user") != self.user_of[op]:
            self.broken(f"{ECHO_FAILPOINT} of op {op} names user {event.get('user')!r}")
        self.echo_firings[op] += 1

    def on_invoke(self, event: dict) -> None:
        op, client = event.get("op"), event.get("client")
        if op not in self.client_of:
            self.broken(f"invoke of op {op!r}, which is not in the plan")
            return
        expected_client = self.client_of[op]
        if client != expected_client:
            self.broken(f"op {op} invoked as client {client!r}, not client {expected_client}")
            return
        ops = self.plan["clients"][client]["ops"]
        index = self.next_index[client]
        if self.open_op[client] is not None:
            self.broken(f"client {client} invoked op {op} before op {self.open_op[client]} ended")
        if index >= len(ops) or ops[index]["op"] != op:
            self.broken(f"client {client} invoked op {op} out of plan order or twice")
        self.next_index[client] = index + 1
        self.open_op[client] = op
        if event.get("kind") != "echo" or event.get("user") != self.user_of[op]:
            self.broken(f"invoke of op {op} does not carry kind echo and user {self.user_of[op]}")
        if event.get("phase") != self.plan["phase"]:
            self.broken(f"invoke of op {op} has phase {event.get('phase')!r}, not the plan's")
        delay_ns = self.plan["clients"][client]["start_delay_ms"] * 1_000_000
        if (self.go_ns is not None and type(event.get("time_ns")) is int
                and event["time_ns"] < self.go_ns + delay_ns - 1_000_000):
            self.broken(f"client {client} invoked op {op} before go plus its start_delay_ms")

    def on_completion(self, event: dict) -> None:
        op, client = event.get("op"), event.get("client")
        if op not in self.client_of or client != self.client_of[op] or self.open_op[client] != op:
            self.broken(f"{event.get('type')} of op {op!r} (client {client!r}) without its invoke")
            return
        self.open_op[client] = None
        self.completions[op] = event
        if event.get("phase") != self.plan["phase"] or event.get("user") != self.user_of[op]:
            self.broken(f"{event.get('type')} of op {op} lacks the plan's phase or the op's user")
        value = event.get("value")
        if not isinstance(value, dict) or type(value.get("lock_waits")) is not int:
            self.broken(f"{event.get('type')} of op {op}: value lacks an integer lock_waits")
            return
        if event["type"] == "ok":
            if value.get("echo") != self.user_of[op]:
                self.broken(f"ok of echo op {op} has value {value!r}, not {{\"echo\": user}}")
            return
        if value.get("error") not in ERROR_NAMES:
            self.broken(f"{event['type']} of op {op} names error {value.get('error')!r}, "
                        "outside the protocol's list")
        message = value.get("message")
        if not isinstance(message, str) or "\n" in message:
            self.broken(f"{event['type']} of op {op}: message is not one line of text")
        if type(value.get("definite")) is not bool:
            self.broken(f"{event['type']} of op {op}: definite is not a boolean")

    def at_done(self) -> None:
        for op, client in self.client_of.items():
            if op not in self.completions:
                self.broken(f"done before op {op} (client {client}) completed")
            elif self.echo_firings[op] != 1:
                self.broken(f"op {op}: {ECHO_FAILPOINT} fired {self.echo_firings[op]} times, "
                            "not once")


class Conformance:
    """Runs every session against one command and gathers the broken rules."""

    def __init__(self, command, env=None, cwd=None, timeout=DEFAULT_TIMEOUT_S,
                 migrator="conformance"):
        self.command = list(command)
        self.migrator = migrator
        self.env = env
        self.cwd = cwd
        self.timeout = timeout
        self.broken: list[str] = []
        self.declared: set[str] = set()

    def fail(self, session_name: str, text: str, session: Session | None = None) -> None:
        tail = session.log_tail() if session is not None else ""
        suffix = f" (worker log ends: {tail})" if tail else ""
        line = f"{session_name}: {text}{suffix}"
        if line not in self.broken:
            self.broken.append(line)

    def start(self, session_name: str) -> Session | None:
        try:
            return Session(self.command, self.env, self.cwd, self.timeout)
        except OSError as error:
            self.fail(session_name, f"cannot start {self.command[0]}: {error}")
            return None

    def run(self) -> list[str]:
        for check in (self.check_describe, self.check_ungated, self.check_gated_proceed,
                      self.check_gated_error, self.check_gated_crash, self.check_other_protocol):
            check()
        return self.broken

    def expect_ready(self, name: str, session: Session) -> dict | None:
        status, message = session.receive()
        if status != "message":
            what = {"eof": "closed the channel", "timeout": f"sent nothing for {self.timeout:g} s"}
            self.fail(name, f"expected ready, but the worker {what.get(status, 'sent ' + str(message))}",
                      session)
            return None
        if message.get("t") == "error":
            self.fail(name, f"the worker answered error: {message.get('message')!r}", session)
            return None
        for problem in check_ready(message):
            self.fail(name, problem)
        return message if message.get("t") == "ready" else None

    def expect_clean_exit(self, name: str, session: Session, status_wanted: str = "zero") -> None:
        status = session.wait_exit()
        if status is None:
            self.fail(name, f"the worker did not exit within {self.timeout:g} s", session)
            return
        if status_wanted == "zero" and status != 0:
            self.fail(name, f"the worker exited with status {status}, not 0", session)
        if status_wanted == "nonzero" and status == 0:
            self.fail(name, "the worker exited with status 0 after its error", session)
        left = session.leftovers()
        if left:
            self.fail(name, f"processes left in the worker's process group: {left}")

    def check_describe(self) -> None:
        name = "describe"
        session = self.start(name)
        if session is None:
            return
        try:
            session.send({"t": "describe", "protocol": PROTOCOL_VERSION,
                          "migrator": self.migrator})
            ready = self.expect_ready(name, session)
            if ready is None:
                return
            self.declared = declared_names(ready)
            session.close_channel()
            status, message = session.receive()
            if status == "message":
                self.fail(name, f"sent {message.get('t')} after ready to a describe")
            elif status == "bad":
                self.fail(name, f"sent {message}")
            self.expect_clean_exit(name, session)
        finally:
            session.stop()

    def run_plan(self, name: str, plan: dict, grant_for=None, hold_first_hit: bool = False):
        """Runs `plan`; returns (session, checker, ended) where ended is done/eof/timeout/bad."""
        session = self.start(name)
        if session is None:
            return None, None, "failed"
        plan = dict(plan, trial_start_ns=session.trial_start_ns)
        checker = HistoryChecker(session, plan, self.declared, bool(plan["gated_failpoints"]))
        session.send(plan)
        if self.expect_ready(name, session) is None:
            return session, checker, "failed"
        status, message = session.receive(QUIET_WINDOW_S)
        if status == "message":
            self.fail(name, f"sent {message.get('t')} before go")
        elif status in ("bad", "eof"):
            self.fail(name, f"before go, the worker sent {message or 'nothing and closed the channel'}",
                      session)
            return session, checker, status
        checker.go_ns = session.elapsed_ns()
        session.send({"t": "go"})
        session.send({"t": "go"})  # a second go must be ignored
        held = None  # (id, client) of the first hit, held while the other clients finish
        hits_granted = 0
        while True:
            if held is not None and self.others_finished(checker, held[1]):
                session.send({"t": "grant", "id": held[0], "action": "proceed"})
                held = None
            status, message = session.receive()
            if status != "message":
                if held is not None and status == "timeout":
                    self.fail(name, f"while client {held[1]}'s hit was held, the other clients "
                                    "did not finish: a hit must block only its client")
                else:
                    self.fail(name, {"eof": "the worker closed the channel before done",
                                     "timeout": f"no done within {self.timeout:g} s"}.get(
                                         status, f"the worker sent {message}"), session)
                return session, checker, status
            kind = message["t"]
            if kind == "done":
                break
            if kind == "event":
                event = message.get("event")
                if (held is not None and isinstance(event, dict) and event.get("op") == held[2]
                        and event.get("type") in ("ok", "fail", "info")):
                    self.fail(name, f"op {held[2]} completed while its hit was held")
                checker.on_event(event)
            elif kind == "hit":
                checker.on_hit(message)
                event = message.get("event") if isinstance(message.get("event"), dict) else {}
                if hold_first_hit and hits_granted == 0 and held is None:
                    held = (message.get("id"), event.get("client"), event.get("op"))
                else:
                    action = grant_for(hits_granted) if grant_for else "proceed"
                    session.send({"t": "grant", "id": message.get("id"), "action": action})
                hits_granted += 1
            elif kind == "ready":
                self.fail(name, "sent ready twice")
            elif kind == "error":
                self.fail(name, f"the worker answered error: {message.get('message')!r}", session)
                return session, checker, "error"
        checker.at_done()
        return session, checker, "done"

    @staticmethod
    def others_finished(checker: HistoryChecker, held_client) -> bool:
        for op, client in checker.client_of.items():
            if client != held_client and op not in checker.completions:
                return False
        return True

    def finish_plan(self, name, session, checker, ended) -> None:
        for problem in checker.problems if checker else []:
            self.fail(name, problem)
        if ended != "done":
            return
        status, message = session.receive(QUIET_WINDOW_S)
        if status == "message":
            self.fail(name, f"sent {message.get('t')} after done")
        self.expect_clean_exit(name, session)

    def expect_all_ok(self, name: str, checker: HistoryChecker) -> None:
        for op, event in checker.completions.items():
            if event.get("type") != "ok":
                self.fail(name, f"echo op {op} ended {event.get('type')} "
                                f"{event.get('value', {}).get('error')!r}, not ok")

    def check_ungated(self) -> None:
        name = "plan (ungated echo)"
        plan = make_plan(0, [["u0000", "u0001"], ["u0002", "u0003"], ["u0004"]], gated=False, migrator=self.migrator,
                         delays_ms=[0, 0, 50])
        session, checker, ended = self.run_plan(name, plan)
        try:
            if ended == "done":
                self.expect_all_ok(name, checker)
            self.finish_plan(name, session, checker, ended)
        finally:
            if session:
                session.stop()

    def check_gated_proceed(self) -> None:
        name = "plan (gated echo, proceed)"
        plan = make_plan(0, [["u0010", "u0011"], ["u0012", "u0013"], ["u0014"]], gated=True, migrator=self.migrator)
        session, checker, ended = self.run_plan(name, plan, hold_first_hit=True)
        try:
            if ended == "done":
                self.expect_all_ok(name, checker)
            self.finish_plan(name, session, checker, ended)
        finally:
            if session:
                session.stop()

    def check_gated_error(self) -> None:
        name = "plan (gated echo, error grant)"
        plan = make_plan(0, [["u0020", "u0021"]], gated=True, migrator=self.migrator)
        session, checker, ended = self.run_plan(
            name, plan, grant_for=lambda i: "error" if i == 0 else "proceed")
        try:
            if ended == "done":
                first, second = checker.completions.get(0, {}), checker.completions.get(1, {})
                value = first.get("value") or {}
                if first.get("type") != "fail" or value.get("error") != "InjectedError":
                    self.fail(name, "the op granted error did not fail with InjectedError")
                elif value.get("definite") is not False:
                    self.fail(name, "an InjectedError fail must have definite false")
                if second.get("type") != "ok":
                    self.fail(name, "the op after the error grant did not complete ok")
            self.finish_plan(name, session, checker, ended)
        finally:
            if session:
                session.stop()

    def check_gated_crash(self) -> None:
        name = "plan (gated echo, crash grant)"
        plan = make_plan(0, [["u0030"]], gated=True, migrator=self.migrator)
        session = self.start(name)
        if session is None:
            return
        try:
            plan["trial_start_ns"] = session.trial_start_ns
            session.send(plan)
            if self.expect_ready(name, session) is None:
                return
            session.send({"t": "go"})
            while True:
                status, message = session.receive()
                if status != "message":
                    self.fail(name, {"timeout": "no hit for the gated failpoint",
                                     "eof": "the worker closed the channel before its hit"}.get(
                                         status, f"before its hit, the worker sent {message}"),
                              session)
                    return
                if message["t"] == "hit":
                    break
                if message["t"] in ("done", "error") or (
                        message["t"] == "event" and isinstance(message.get("event"), dict)
                        and message["event"].get("type") in ("ok", "fail")):
                    self.fail(name, f"sent {message['t']} before the gated failpoint's hit")
                    return
            session.send({"t": "grant", "id": message.get("id"), "action": "crash"})
            status, message = session.receive()
            if status == "message":
                self.fail(name, f"sent {message.get('t')} after a crash grant")
            exit_status = session.wait_exit()
            if exit_status is None:
                self.fail(name, f"the worker still runs {self.timeout:g} s after a crash grant")
            elif exit_status != -signal.SIGKILL:
                self.fail(name, f"after a crash grant the worker ended with status {exit_status}, "
                                "not death by SIGKILL", session)
        finally:
            session.stop()

    def check_other_protocol(self) -> None:
        name = "plan (protocol 2)"
        session = self.start(name)
        if session is None:
            return
        try:
            plan = make_plan(session.trial_start_ns, [["u0040"]], gated=False, migrator=self.migrator, protocol=2)
            session.send(plan)
            status, message = session.receive()
            if status != "message" or message.get("t") != "error":
                self.fail(name, "a plan of protocol 2 was not answered with error "
                                f"({status}: {message.get('t') if status == 'message' else message})",
                          session)
            elif not isinstance(message.get("message"), str) or "\n" in message["message"]:
                self.fail(name, "the error's message is not one line of text")
            self.expect_clean_exit(name, session, status_wanted="nonzero")
        finally:
            session.stop()


def run_conformance(command, env=None, cwd=None, timeout=DEFAULT_TIMEOUT_S,
                    migrator="conformance") -> list[str]:
    """Runs the conformance test against `command`; returns the broken rules (empty: conforms).

    `migrator` is the name the plans select the migrator by, for a program
    that serves several (the C++ `orgquake worker`: reference, seed_naive).
    """
    return Conformance(command, env=env, cwd=cwd, timeout=timeout, migrator=migrator).run()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description="Check that a worker command speaks the orgquake worker protocol 1.",
        usage="%(prog)s [--timeout S] [--migrator NAME] -- COMMAND ARGS...")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S,
                        help="seconds any one wait may take (default %(default)s)")
    parser.add_argument("--migrator", default="conformance",
                        help="the name plans select the migrator by (default %(default)s)")
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no worker command given after --")
    broken = run_conformance(command, timeout=args.timeout, migrator=args.migrator)
    for line in broken:
        print(line)
    if not broken:
        print(f"conformance: {' '.join(command)} follows every checked rule")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
