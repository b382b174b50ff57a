#!/usr/bin/env python3
"""A worker that speaks orgquake protocol 1 by hand, without the SDK.

It supports only the built-in `echo` operation. It exists to show that the
protocol document is enough to write a worker, and to check the conformance
test against an implementation that shares no code with the SDK.
"""

import json
import os
import signal
import socket
import sys
import threading
import time

channel = socket.socket(fileno=int(os.environ["ORGQUAKE_CHANNEL_FD"]))
send_lock = threading.Lock()
grants = {}  # hit id -> [threading.Event, action]
grants_lock = threading.Lock()
went = threading.Event()


def send(message):
    # One line per message, under one lock, so lines of clients never interleave.
    with send_lock:
        try:
            channel.sendall(json.dumps(message).encode() + b"\n")
        except OSError:
            os._exit(3)


def lines():
    buffer = b""
    while True:
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            yield json.loads(line)
        chunk = channel.recv(65536)
        if not chunk:
            os._exit(3)  # the controller is gone
        buffer += chunk


def read_controller(messages):
    for message in messages:
        if message["t"] == "go":
            went.set()
        elif message["t"] == "grant":
            with grants_lock:
                waiter = grants.pop(message["id"], None)
            if waiter:
                waiter[1] = message["action"]
                waiter[0].set()


def run_client(plan, index, next_hit_id):
    client = plan["clients"][index]
    went.wait()
    time.sleep(client["start_delay_ms"] / 1000)
    for op in client["ops"]:
        def event(type_, value, **extra):
            return {"type": type_, "time_ns": time.monotonic_ns() - plan["trial_start_ns"],
                    "client": index, "op": op["op"], "user": op["user"], "value": value, **extra}

        send({"t": "event", "event": event("invoke", {}, kind=op["kind"], phase=plan["phase"])})
        firing = event("failpoint", {"action": "off"}, kind="protocol.echo")
        outcome = {"echo": op["user"], "lock_waits": 0}
        if "protocol.echo" in plan["gated_failpoints"]:
            waiter = [threading.Event(), "proceed"]
            with grants_lock:
                hit_id = next(next_hit_id)
                grants[hit_id] = waiter
            send({"t": "hit", "id": hit_id, "event": firing})
            waiter[0].wait()
            if waiter[1] == "crash":
                os.kill(os.getpid(), signal.SIGKILL)
            if waiter[1] == "error":
                outcome = {"error": "InjectedError", "message": "granted error",
                           "definite": False, "lock_waits": 0}
        else:
            send({"t": "event", "event": firing})
        finished = "fail" if "error" in outcome else "ok"
        send({"t": "event", "event": event(finished, outcome, kind=op["kind"], phase=plan["phase"])})


def main():
    messages = lines()
    first = next(messages)
    if first.get("protocol") != 1:
        send({"t": "error", "message": f"tiny_worker speaks protocol 1, not {first.get('protocol')}"})
        return 2
    ready = {"t": "ready", "protocol": 1, "migrator": {"name": "tiny", "language": "python"},
             "operations": [], "failpoints": []}
    if first["t"] == "describe":
        send(ready)
        return 0
    plan = first
    threading.Thread(target=read_controller, args=(messages,), daemon=True).start()
    hit_ids = iter(range(1 << 62))
    clients = [threading.Thread(target=run_client, args=(plan, i, hit_ids))
               for i in range(len(plan["clients"]))]
    for client in clients:
        client.start()
    send(ready)  # echo clients have nothing to connect
    for client in clients:
        client.join()
    send({"t": "done"})
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main())
