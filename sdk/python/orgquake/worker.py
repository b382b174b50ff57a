"""The worker loop: the protocol's side of a migrator, as worker/worker.cpp does it."""

from __future__ import annotations

import asyncio
import inspect
import json
import os
import sys
import threading
import time

from . import context
from . import failpoints
from .channel import Channel, ChannelClosed
from .errors import ERROR_NAMES, InjectedError, classify, message_of, one_line
from .migrator import AsyncMigrator, Migrator
from .plan import Plan

PROTOCOL_VERSION = 1
ECHO_KIND = "echo"
EXIT_USAGE = 2

_NOT_A_WORKER = (
    "this program is an orgquake worker: `orgquake run --migrators FILE --migrator NAME` "
    "starts it with the channel in ORGQUAKE_CHANNEL_FD; it does not run alone"
)


def _in_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


class _ThreadWaiter:
    """A gated hit's client thread, blocked until the grant."""

    def __init__(self):
        self._granted = threading.Event()
        self.action = "proceed"

    def resolve(self, action: str) -> None:
        self.action = action
        self._granted.set()

    def wait(self) -> str:
        self._granted.wait()
        return self.action


class _TaskWaiter:
    """A gated hit's asyncio task, suspended until the grant."""

    def __init__(self):
        self._loop = asyncio.get_running_loop()
        self._future = self._loop.create_future()

    def resolve(self, action: str) -> None:
        self._loop.call_soon_threadsafe(self._set, action)

    def _set(self, action: str) -> None:
        if not self._future.done():
            self._future.set_result(action)

    async def wait(self) -> str:
        return await self._future


def ready_message(migrator: Migrator, selected_name: str | None = None) -> dict:
    """The `ready` message announcing `migrator`'s declarations."""
    declared = dict(migrator.failpoints)
    for name, description in failpoints.explicit_declarations():
        declared.setdefault(name, description)
    return {
        "t": "ready",
        "protocol": PROTOCOL_VERSION,
        "migrator": {
            "name": migrator.name or selected_name or type(migrator).__name__,
            "language": migrator.language,
        },
        "operations": [kind for kind in migrator.operations if kind != ECHO_KIND],
        "failpoints": [{"name": n, "description": d} for n, d in declared.items()],
    }


class _Worker:
    def __init__(self, channel: Channel, plan: Plan, migrator: Migrator):
        self.channel = channel
        self.plan = plan
        self.migrator = migrator
        self.gated = frozenset(plan.gated_failpoints)
        self.pending_hits: dict[int, object] = {}
        self.next_hit_id = 0
        self.lock = threading.Lock()
        self.connected = 0
        self.went = threading.Event()
        self.on_go = self.went.set
        # Firings before go (in connect()) are not history: the protocol allows
        # no event before ready, and the controller's history starts at go.
        self.reporting = False

    # -- messages -----------------------------------------------------------

    def now_ns(self) -> int:
        return time.monotonic_ns() - self.plan.trial_start_ns

    def emit(self, event: dict) -> None:
        self.channel.send({"t": "event", "event": event})

    def op_event(self, type_: str, client: int, op, value: dict) -> dict:
        return {"type": type_, "time_ns": self.now_ns(), "worker": self.plan.worker,
                "client": client, "op": op.op, "kind": op.kind, "user": op.user,
                "phase": self.plan.phase, "value": value}

    def on_message(self, message: dict) -> None:
        kind = message["t"]
        if kind == "go":
            self.reporting = True
            self.on_go()  # a second go is harmless
        elif kind == "grant":
            with self.lock:
                waiter = self.pending_hits.pop(message.get("id"), None)
            if waiter is not None:
                waiter.resolve(message.get("action"))

    def connected_one(self) -> None:
        with self.lock:
            self.connected += 1
            everyone = self.connected == len(self.plan.clients)
        if everyone:
            self.channel.send(ready_message(self.migrator, self.plan.migrator))

    # -- failpoints: this object is the registry's observer -------------------

    def failpoint_event(self, name: str, term) -> dict:
        operation = context.current()
        value = {"action": term.action if term is not None else "off"}
        if term is not None and term.argument:
            value["argument"] = term.argument
        return {"type": "failpoint", "time_ns": self.now_ns(), "worker": self.plan.worker,
                "client": operation.client, "op": operation.op, "user": operation.user,
                "kind": name, "value": value}

    def register_hit(self, waiter) -> int:
        with self.lock:
            hit_id = self.next_hit_id
            self.next_hit_id += 1
            # Registered before the hit is sent, so that no grant can come first.
            self.pending_hits[hit_id] = waiter
        return hit_id

    @staticmethod
    def obey(name: str, action: str) -> None:
        if action == "crash":
            failpoints.crash_process()
        if action == "error":
            raise InjectedError(name, "injected by the controller")

    def announce(self, name: str, term, make_waiter):
        """Reports a firing; for a gated one sends the hit and returns the
        waiter (made by `make_waiter`) to wait on for the grant, else None."""
        if not self.reporting:
            return None
        event = self.failpoint_event(name, term)
        if name not in self.gated:
            self.emit(event)
            return None
        waiter = make_waiter()
        hit_id = self.register_hit(waiter)
        self.channel.send({"t": "hit", "id": hit_id, "event": event})
        return waiter

    def observe(self, name: str, term) -> None:
        if name in self.gated and _in_event_loop():
            # Waiting here would stall every client of the loop, not only
            # this one: the protocol blocks the firing client alone.
            raise RuntimeError(f"failpoint({name!r}) is gated and called inside a running "
                               "asyncio event loop; use 'await afailpoint(...)' there")
        waiter = self.announce(name, term, _ThreadWaiter)
        if waiter is not None:
            self.obey(name, waiter.wait())

    async def aobserve(self, name: str, term) -> None:
        waiter = self.announce(name, term, _TaskWaiter)
        if waiter is not None:
            self.obey(name, await waiter.wait())

    # -- operations -----------------------------------------------------------

    def classify(self, exc: BaseException) -> tuple[str, bool, str]:
        try:
            custom = self.migrator.classify(exc)
        except Exception:  # noqa: BLE001 - a broken hook must not hide the operation's error
            custom = None
        if custom is None:
            return classify(exc)
        try:
            name, definite = custom
        except (TypeError, ValueError):  # a hook of the wrong shape: the error still counts
            return "Error", False, one_line(f"classify() returned {custom!r}: {message_of(exc)}")
        if name not in ERROR_NAMES:  # a name outside the list is a protocol violation
            return "Error", False, one_line(f"{name}: {message_of(exc)}")
        return name, bool(definite), message_of(exc)

    def method_for(self, kind: str):
        method = getattr(self.migrator, kind, None) if kind in self.migrator.operations else None
        if method is None or kind.startswith("_"):
            raise ValueError(f"this worker does not support operation kind {kind!r}")
        return method

    def completion(self, client: int, op, operation, value, error) -> dict:
        if error is None:
            if not isinstance(value, dict):
                error = TypeError(f"{op.kind}() returned {type(value).__name__}, not a dict")
            else:
                value = dict(value)
                value.setdefault("lock_waits", operation.lock_waits)
                try:
                    json.dumps(value)
                except (TypeError, ValueError) as unserializable:
                    # One operation's bad value fails that operation, not the worker.
                    error = TypeError(f"{op.kind}() returned a value JSON cannot hold: "
                                      f"{unserializable}")
                else:
                    return self.op_event("ok", client, op, value)
        name, definite, message = self.classify(error)
        return self.op_event("fail", client, op, {"error": name, "message": message,
                                                  "definite": definite,
                                                  "lock_waits": operation.lock_waits})

    def finish(self) -> None:
        self.channel.send({"t": "done"})
        sys.stdout.flush()
        sys.stderr.flush()
        # Nothing to tidy: the kernel closes every connection, as a replica that
        # exits leaves them; _exit skips the teardown of the other threads.
        os._exit(0)

    def fail_loop(self, error: BaseException) -> None:
        self.channel.send({"t": "error", "message": f"worker loop: {message_of(error)}"})
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_USAGE)

    # -- threads ----------------------------------------------------------------

    def run_threads(self) -> None:
        threads = [threading.Thread(target=self.client_thread, args=(i,), name=f"client-{i}",
                                    daemon=True) for i in range(len(self.plan.clients))]
        for thread in threads:  # all at once, so that connection setup is parallel
            thread.start()
        if not threads:
            self.channel.send(ready_message(self.migrator, self.plan.migrator))
            self.went.wait()
        for thread in threads:
            thread.join()
        self.finish()

    def client_thread(self, index: int) -> None:
        try:
            self.run_client(index)
        except BaseException as error:  # noqa: BLE001 - the controller must hear of it
            self.fail_loop(error)

    def call_sync(self, method, *args):
        result = method(*args)
        if inspect.isawaitable(result):
            raise TypeError(f"{method.__name__}() is async: derive from orgquake.AsyncMigrator")
        return result

    def run_client(self, index: int) -> None:
        context.enter(context.OperationContext(client=index))
        client = self.plan.clients[index]
        state, connected = None, False
        try:
            state, connected = self.call_sync(self.migrator.connect, self.plan, index), True
        except Exception:  # noqa: BLE001 - each operation tries again, and fails visibly
            pass
        self.connected_one()
        self.went.wait()
        if client.start_delay_ms > 0:
            time.sleep(client.start_delay_ms / 1000)
        for op in client.ops:
            operation = context.OperationContext(client=index, op=op.op, user=op.user)
            token = context.enter(operation)
            self.emit(self.op_event("invoke", index, op, {}))
            value, error = None, None
            try:
                if op.kind == ECHO_KIND:
                    failpoints.failpoint(failpoints.ECHO_FAILPOINT)
                    value = {"echo": op.user}
                else:
                    method = self.method_for(op.kind)
                    if not connected:
                        state = self.call_sync(self.migrator.connect, self.plan, index)
                        connected = True
                    value = self.call_sync(method, state, op.user)
            except Exception as exc:  # noqa: BLE001 - every error is the operation's outcome
                error = exc
            event = self.completion(index, op, operation, value, error)
            self.emit(event)
            if event["type"] == "fail" and not event["value"]["definite"] and connected:
                try:
                    self.call_sync(self.migrator.reset, state)
                except Exception:  # noqa: BLE001 - a failed reset means connecting afresh
                    state, connected = None, False
            context.leave(token)

    # -- asyncio ------------------------------------------------------------------

    async def run_tasks(self) -> None:
        loop = asyncio.get_running_loop()
        went = asyncio.Event()
        self.on_go = lambda: loop.call_soon_threadsafe(went.set)
        if self.went.is_set():
            went.set()
        self.went = went
        tasks = [asyncio.create_task(self.client_task(i)) for i in range(len(self.plan.clients))]
        if not tasks:
            self.channel.send(ready_message(self.migrator, self.plan.migrator))
            await went.wait()
        try:
            await asyncio.gather(*tasks)
        except BaseException as error:  # noqa: BLE001 - the controller must hear of it
            self.fail_loop(error)
        self.finish()

    async def call_async(self, method, *args):
        result = method(*args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def client_task(self, index: int) -> None:
        context.enter(context.OperationContext(client=index))
        client = self.plan.clients[index]
        state, connected = None, False
        try:
            state, connected = await self.call_async(self.migrator.connect, self.plan, index), True
        except Exception:  # noqa: BLE001 - each operation tries again, and fails visibly
            pass
        self.connected_one()
        await self.went.wait()
        if client.start_delay_ms > 0:
            await asyncio.sleep(client.start_delay_ms / 1000)
        for op in client.ops:
            operation = context.OperationContext(client=index, op=op.op, user=op.user)
            token = context.enter(operation)
            self.emit(self.op_event("invoke", index, op, {}))
            value, error = None, None
            try:
                if op.kind == ECHO_KIND:
                    await failpoints.afailpoint(failpoints.ECHO_FAILPOINT)
                    value = {"echo": op.user}
                else:
                    method = self.method_for(op.kind)
                    if not connected:
                        state = await self.call_async(self.migrator.connect, self.plan, index)
                        connected = True
                    value = await self.call_async(method, state, op.user)
            except Exception as exc:  # noqa: BLE001 - every error is the operation's outcome
                error = exc
            event = self.completion(index, op, operation, value, error)
            self.emit(event)
            if event["type"] == "fail" and not event["value"]["definite"] and connected:
                try:
                    await self.call_async(self.migrator.reset, state)
                except Exception:  # noqa: BLE001 - a failed reset means connecting afresh
                    state, connected = None, False
            context.leave(token)


def _refuse(channel: Channel, message: str) -> int:
    channel.send({"t": "error", "message": one_line(message)})
    return EXIT_USAGE


def main(migrator) -> int:
    """Runs `migrator` (a Migrator class or instance) as an orgquake worker; returns the exit status."""
    channel = Channel.from_environment()
    if channel is None:
        print(f"{os.path.basename(sys.argv[0]) or 'python'}: {_NOT_A_WORKER}", file=sys.stderr)
        return EXIT_USAGE
    instance = migrator() if isinstance(migrator, type) else migrator
    for name, description in dict(instance.failpoints).items():
        failpoints.declare_for_class(name, description)
    try:
        first = channel.receive()
    except ChannelClosed:
        return 3
    except ValueError as error:
        return _refuse(channel, str(error))
    protocol = first.get("protocol")
    if type(protocol) is not int or protocol != PROTOCOL_VERSION:
        return _refuse(channel, f"this worker speaks orgquake protocol {PROTOCOL_VERSION}, "
                                f"not {protocol!r}")
    if first["t"] == "describe":
        channel.send(ready_message(instance))
        return 0
    if first["t"] != "plan":
        return _refuse(channel, f"expected describe or plan first, not {first['t']!r}")
    try:
        plan = Plan.from_json(first)
    except ValueError as error:
        return _refuse(channel, f"bad worker plan: {error}")

    worker = _Worker(channel, plan, instance)
    try:
        announced = [entry["name"] for entry in ready_message(instance)["failpoints"]]
        failpoints.restrict_declarations(announced)
        failpoints.ignore_environment()  # the plan alone arms failpoints under orgquake
        failpoints.set_seed(plan.seed)
        failpoints.set_observer(worker)
        failpoints.configure(plan.failpoints)
    except ValueError as error:
        return _refuse(channel, f"bad failpoints in the plan: {error}")
    try:
        if isinstance(instance, AsyncMigrator):
            async def run_with_reader():
                channel.start_reader(worker.on_message)
                await worker.run_tasks()
            asyncio.run(run_with_reader())
        else:
            channel.start_reader(worker.on_message)
            worker.run_threads()
    except BaseException as error:  # noqa: BLE001 - the controller must hear of it
        worker.fail_loop(error)
    return EXIT_USAGE  # not reached: the loop ends in os._exit
