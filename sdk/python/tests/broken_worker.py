"""The echo worker with one deliberate protocol violation, chosen by argv[1].

The conformance test must reject each: this is what proves it can fail.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import echo_worker  # noqa: E402
import orgquake  # noqa: E402
from orgquake import channel, failpoints, worker  # noqa: E402

MODES = ("not-json", "duplicate-failpoint", "ignore-crash", "event-before-go", "wrong-echo",
         "leave-child")


def break_protocol(mode: str) -> None:
    original_send = channel.Channel.send
    original_ready = worker.ready_message

    if mode == "not-json":
        def send(self, message):
            original_send(self, message)
            if message.get("t") == "ready":
                with self._send_lock:
                    self._socket.sendall(b"this is not JSON\n")
        channel.Channel.send = send
    elif mode == "duplicate-failpoint":
        def ready_message(*args):
            message = original_ready(*args)
            message["failpoints"].append(dict(message["failpoints"][0]))
            return message
        worker.ready_message = ready_message
    elif mode == "ignore-crash":
        failpoints.crash_process = lambda: None
    elif mode == "event-before-go":
        def send(self, message):
            original_send(self, message)
            if message.get("t") == "ready":
                original_send(self, {"t": "event", "event": {
                    "type": "info", "time_ns": 0, "client": 0, "op": 0, "value": {}}})
        channel.Channel.send = send
    elif mode == "wrong-echo":
        def send(self, message):
            event = message.get("event")
            if message.get("t") == "event" and event.get("type") == "ok":
                event["value"]["echo"] = "someone else"
            original_send(self, message)
        channel.Channel.send = send
    elif mode == "leave-child":
        def finish(self):
            # A grandchild that outlives the worker in its process group.
            if os.fork() == 0:
                os.execv("/bin/sleep", ["sleep", "30"])
            original_finish(self)
        original_finish = worker._Worker.finish
        worker._Worker.finish = finish


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in MODES:
        sys.exit(f"usage: broken_worker.py {{{','.join(MODES)}}}")
    break_protocol(sys.argv[1])
    raise SystemExit(orgquake.main(echo_worker.EchoMigrator))
