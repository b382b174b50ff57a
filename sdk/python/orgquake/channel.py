"""The channel to the controller: JSON lines on the socket ORGQUAKE_CHANNEL_FD names."""

from __future__ import annotations

import json
import os
import socket
import sys
import threading

CHANNEL_VARIABLE = "ORGQUAKE_CHANNEL_FD"
MAX_LINE_BYTES = 1 << 20
# The controller is gone: a replica without its orchestrator stops.
EXIT_CHANNEL_CLOSED = 3
EXIT_BAD_MESSAGE = 2


class ChannelClosed(Exception):
    """The controller closed the channel."""


class Channel:
    """One worker's channel; send() is safe from any thread."""

    def __init__(self, fd: int):
        self._socket = socket.socket(fileno=fd)
        self._socket.setblocking(True)
        self._send_lock = threading.Lock()
        self._inbox = bytearray()

    @staticmethod
    def from_environment() -> "Channel | None":
        text = os.environ.get(CHANNEL_VARIABLE)
        if text is None:
            return None
        return Channel(int(text))

    def send(self, message: dict) -> None:
        """Sends one message as one line; exits at once if the controller is gone."""
        # ASCII escapes keep the line valid UTF-8 whatever the strings hold.
        line = json.dumps(message, separators=(",", ":"), ensure_ascii=True).encode() + b"\n"
        if len(line) > MAX_LINE_BYTES:
            raise ValueError(f"a {message.get('t')} message of {len(line)} bytes is over 1 MiB")
        # One lock for the whole line: lines from many clients never interleave.
        with self._send_lock:
            try:
                self._socket.sendall(line)
            except OSError:
                os._exit(EXIT_CHANNEL_CLOSED)

    def receive(self) -> dict:
        """The next message; ChannelClosed at the end, ValueError for a bad line."""
        while True:
            end = self._inbox.find(b"\n")
            if end >= 0:
                line = bytes(self._inbox[:end])
                del self._inbox[: end + 1]
                break
            if len(self._inbox) > MAX_LINE_BYTES:
                raise ValueError("a line from the controller is longer than 1 MiB")
            try:
                chunk = self._socket.recv(64 * 1024)
            except InterruptedError:
                continue
            except OSError:
                chunk = b""  # ECONNRESET: a killed controller
            if not chunk:
                raise ChannelClosed()
            self._inbox += chunk
        if len(line) > MAX_LINE_BYTES:
            raise ValueError("a line from the controller is longer than 1 MiB")
        try:
            message = json.loads(line)
        except ValueError as error:
            raise ValueError(f"a line from the controller is not JSON: {error}") from None
        if not isinstance(message, dict) or not isinstance(message.get("t"), str):
            raise ValueError("a message from the controller is not an object with a string 't'")
        return message

    def start_reader(self, on_message) -> threading.Thread:
        """Reads every later message in a daemon thread, passing each to `on_message`.

        The end of the channel exits the process at once; so does a message this
        worker cannot follow (after one line on stderr).
        """
        def read_forever():
            try:
                while True:
                    on_message(self.receive())
            except ChannelClosed:
                os._exit(EXIT_CHANNEL_CLOSED)
            except BaseException as error:  # noqa: BLE001 - a dead reader would hang the worker
                print(f"orgquake worker: bad message from the controller: {error}",
                      file=sys.stderr, flush=True)
                os._exit(EXIT_BAD_MESSAGE)

        reader = threading.Thread(target=read_forever, name="orgquake-channel", daemon=True)
        reader.start()
        return reader
