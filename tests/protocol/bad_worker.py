"""A worker that breaks one rule of docs/worker-protocol.md, chosen by argv[1].

Written by hand against the protocol (no SDK), so that the controller's
checks are tested against exactly the misbehaviour named. Until the
misbehaviour it answers as a well-behaved worker would, failing every
operation definitely with LockTimeout (it has no database to migrate).
"""

import json
import os
import subprocess
import sys
import time

MODE = sys.argv[1]
FAILPOINTS = [{"name": "bad.step", "description": "the only failpoint of this worker"}]


def main():
    channel = os.fdopen(int(os.environ["ORGQUAKE_CHANNEL_FD"]), "r+b", buffering=0)

    def send(message):
        channel.write((json.dumps(message) + "\n").encode())

    def receive():
        line = b""
        while not line.endswith(b"\n"):
            chunk = channel.read(1)
            if not chunk:
                sys.exit(3)
            line += chunk
        return json.loads(line)

    first = receive()
    declared = list(FAILPOINTS)
    if MODE == "duplicate_failpoint":
        declared.append(FAILPOINTS[0])
    ready = {"t": "ready", "protocol": 1, "migrator": {"name": "bad", "language": "python"},
             "operations": ["lookup", "migrate"], "failpoints": declared}
    if first["t"] == "describe":
        send(ready)
        return 0
    if MODE == "exit_before_ready":
        print("bad_worker: exiting before ready, as asked")
        return 1
    if MODE == "silent":
        time.sleep(600)
    if MODE == "bad_version":
        ready["protocol"] = 2
    send(ready)
    while receive()["t"] != "go":
        pass
    if MODE == "not_json":
        channel.write(b"hello from a library that logs to the channel\n")
    if MODE == "wrong_shape":
        send({"t": "event", "event": {"type": "ok", "op": "seven"}})
    if MODE == "leaves_child":
        subprocess.Popen(["sleep", "60"])
    for client, plan in enumerate(first["clients"]):
        for op in plan["ops"]:
            op_id = op["op"] + 100000 if MODE == "unplanned_op" else op["op"]
            event = {"time_ns": time.monotonic_ns() - first["trial_start_ns"], "client": client,
                     "op": op_id, "kind": op["kind"], "user": op["user"],
                     "phase": first["phase"]}
            send({"t": "event", "event": dict(event, type="invoke", value={})})
            if MODE == "done_with_open_op":
                send({"t": "done"})
                return 0
            if MODE == "undeclared_failpoint":
                send({"t": "event", "event": {"type": "failpoint", "time_ns": event["time_ns"],
                                              "client": client, "op": op["op"],
                                              "user": op["user"], "kind": "never.declared",
                                              "value": {"action": "off"}}})
            error = "NoSuchError" if MODE == "unknown_error" else "LockTimeout"
            send({"t": "event", "event": dict(event, type="fail", value={
                "error": error, "message": "bad_worker has no database", "definite": True,
                "lock_waits": 0})})
    send({"t": "done"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
