"""Helpers the tests share: a clean failpoint registry and a recording observer."""

import os
import sys
import threading
import time
import unittest

from orgquake import context, failpoints

SDK_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTS_DIR = os.path.join(SDK_DIR, "tests")
REPOSITORY_DIR = os.path.dirname(os.path.dirname(SDK_DIR))
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
# A bound on waits for another thread, never an assertion about speed.
PATIENCE_S = 10.0


class CleanRegistry(unittest.TestCase):
    """Each test starts with no declarations, no configuration and no environment."""

    def setUp(self):
        saved = {name: os.environ.pop(name, None)
                 for name in (failpoints.ENVIRONMENT_VARIABLE, failpoints.SEED_VARIABLE)}
        self.addCleanup(self._restore, saved)
        failpoints.reset()

    @staticmethod
    def _restore(saved):
        for name, value in saved.items():
            if value is not None:
                os.environ[name] = value
        failpoints.reset()


class RecordingObserver:
    """Records each firing with the operation the context names."""

    def __init__(self):
        self.lock = threading.Lock()
        self.firings = []

    def observe(self, name, term):
        operation = context.current()
        with self.lock:
            self.firings.append((name, term.action if term else "off", operation.client,
                                 operation.op, operation.user))

    async def aobserve(self, name, term):
        self.observe(name, term)


def wait_until(condition, what: str):
    deadline = time.monotonic() + PATIENCE_S
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting: {what}")
        time.sleep(0.005)
