"""The conformance test passes conforming workers and rejects broken ones."""

import os
import subprocess
import unittest

from orgquake.conformance import run_conformance
from tests.support import PATIENCE_S, PYTHON, REPOSITORY_DIR, SDK_DIR, TESTS_DIR

ENVIRONMENT = {"PYTHONPATH": SDK_DIR, "PYTHONDONTWRITEBYTECODE": "1"}
BROKEN = os.path.join(TESTS_DIR, "broken_worker.py")
# Short enough that a worker which never answers fails the test quickly.
TIMEOUT_S = 5.0


def conformance(*command):
    return run_conformance([PYTHON, *command], env=ENVIRONMENT, timeout=TIMEOUT_S)


class ConformingWorkersTest(unittest.TestCase):
    def test_the_sdk_worker_with_threads_conforms(self):
        self.assertEqual(conformance(os.path.join(TESTS_DIR, "echo_worker.py")), [])

    def test_the_sdk_worker_with_asyncio_conforms(self):
        self.assertEqual(conformance(os.path.join(TESTS_DIR, "async_echo_worker.py")), [])

    def test_a_hand_written_worker_without_the_sdk_conforms(self):
        tiny = os.path.join(REPOSITORY_DIR, "tests", "protocol", "tiny_worker.py")
        self.assertEqual(conformance(tiny), [])

    def test_a_worker_with_real_operations_conforms_too(self):
        self.assertEqual(conformance(os.path.join(TESTS_DIR, "sample_worker.py"), "threads"), [])


class BrokenWorkersTest(unittest.TestCase):
    def assert_rejected(self, mode, *expected_fragments):
        broken = conformance(BROKEN, mode)
        self.assertTrue(broken, f"the conformance test accepted the {mode} worker")
        for fragment in expected_fragments:
            self.assertTrue(any(fragment in line for line in broken),
                            f"no broken rule mentions {fragment!r}: {broken}")
        for line in broken:
            self.assertNotIn("\n", line)

    def test_a_line_that_is_not_json_is_rejected(self):
        self.assert_rejected("not-json", "a line that is not JSON")

    def test_a_failpoint_declared_twice_is_rejected(self):
        self.assert_rejected("duplicate-failpoint",
                             "describe: ready declares failpoint echo.after_connect twice")

    def test_a_worker_that_survives_a_crash_grant_is_rejected(self):
        self.assert_rejected("ignore-crash", "not death by SIGKILL")

    def test_an_event_before_go_is_rejected(self):
        self.assert_rejected("event-before-go", "sent event before go")

    def test_a_wrong_echo_value_is_rejected(self):
        self.assert_rejected("wrong-echo", "not {\"echo\": user}")

    def test_a_process_left_in_the_group_is_rejected(self):
        self.assert_rejected("leave-child", "processes left in the worker's process group")

    def test_a_command_that_is_not_a_worker_is_rejected_without_hanging(self):
        broken = run_conformance(["/bin/true"], timeout=TIMEOUT_S)
        self.assertTrue(any("expected ready, but the worker closed the channel" in line
                            for line in broken), broken)


class CommandLineTest(unittest.TestCase):
    def run_cli(self, *command):
        script = os.path.join(SDK_DIR, "orgquake", "conformance.py")
        return subprocess.run([PYTHON, script, "--timeout", str(TIMEOUT_S), "--", *command],
                              env={**os.environ, **ENVIRONMENT}, capture_output=True, text=True,
                              timeout=PATIENCE_S * 6, start_new_session=True)

    def test_exit_0_for_a_conforming_worker(self):
        result = self.run_cli(PYTHON, os.path.join(TESTS_DIR, "echo_worker.py"))
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

    def test_exit_1_with_one_line_per_broken_rule(self):
        result = self.run_cli(PYTHON, BROKEN, "ignore-crash")
        self.assertEqual(result.returncode, 1)
        lines = result.stdout.strip().splitlines()
        self.assertTrue(lines and all(line.startswith("plan (gated echo, crash grant)")
                                      for line in lines), lines)


if __name__ == "__main__":
    unittest.main()
