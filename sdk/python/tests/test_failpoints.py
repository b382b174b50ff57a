"""The failpoint registry: declarations, no-op outside orgquake, actions, chains, seeds."""

import asyncio
import os
import signal
import subprocess
import textwrap
import threading
import unittest

import orgquake
from orgquake import failpoints
from orgquake.errors import InjectedError
from tests.support import PATIENCE_S, PYTHON, SDK_DIR, CleanRegistry, RecordingObserver, wait_until


def outcomes(name, evaluations):
    """The text each firing raised, or "-" when it let the caller through."""
    seen = []
    for _ in range(evaluations):
        try:
            failpoints.failpoint(name)
            seen.append("-")
        except InjectedError as error:
            seen.append(error.text)
    return seen


def trigger_pattern(seed, evaluations=64):
    failpoints.set_seed(seed)
    failpoints.arm("demo.step", "50%return")
    return [value != "-" for value in outcomes("demo.step", evaluations)]


class DeclarationTest(CleanRegistry):
    def test_without_declarations_any_name_is_a_no_op(self):
        self.assertIsNone(failpoints.failpoint("anything.at_all"))
        asyncio.run(failpoints.afailpoint("anything.at_all"))

    def test_names_used_before_any_declaration_are_checked_once_one_exists(self):
        failpoints.failpoint("demo.typo")  # nothing declared yet: a no-op
        failpoints.declare("demo.step", "a step")
        with self.assertRaisesRegex(ValueError, "unknown failpoint"):
            failpoints.failpoint("demo.typo")

    def test_a_declared_disarmed_failpoint_does_nothing(self):
        failpoints.declare("demo.step", "a step")
        self.assertEqual(outcomes("demo.step", 3), ["-", "-", "-"])

    def test_an_undeclared_name_raises_once_something_is_declared(self):
        failpoints.declare("demo.after_step", "after the step")
        with self.assertRaisesRegex(ValueError, 'unknown failpoint "demo.after_stp" '
                                                r'\(did you mean "demo.after_step"\?\)'):
            failpoints.failpoint("demo.after_stp")
        with self.assertRaisesRegex(ValueError, "unknown failpoint"):
            asyncio.run(failpoints.afailpoint("demo.other"))

    def test_configuring_an_undeclared_name_raises_and_changes_nothing(self):
        failpoints.declare("demo.step", "a step")
        failpoints.arm("demo.step", "off")
        with self.assertRaisesRegex(ValueError, 'unknown failpoint "demo.stpe"'):
            failpoints.configure("demo.step=crash;demo.stpe=off")
        self.assertEqual(failpoints.describe(), [("demo.step", "a step", "off")])

    def test_a_bad_spec_changes_nothing(self):
        failpoints.declare("demo.step", "a step")
        failpoints.declare("demo.other", "another")
        with self.assertRaisesRegex(ValueError, "unknown action"):
            failpoints.configure("demo.step=crash;demo.other=crsh")
        self.assertEqual([c for _, _, c in failpoints.describe()], ["", ""])

    def test_names_must_be_area_step_and_protocol_echo_is_reserved(self):
        for bad in ("nodot", ".step", "area.", "a b.c", "area.step-1"):
            with self.subTest(name=bad), self.assertRaisesRegex(ValueError, "area.step"):
                failpoints.declare(bad, "x")
        with self.assertRaisesRegex(ValueError, "reserved"):
            failpoints.declare("protocol.echo", "x")
        with self.assertRaisesRegex(ValueError, "description"):
            failpoints.declare("demo.step", "")

    def test_a_migrator_class_declares_its_failpoints_in_order(self):
        class DemoMigrator(orgquake.Migrator):
            failpoints = {"demo.first": "one", "demo.second": "two"}

        self.assertEqual(failpoints.declarations(), [("demo.first", "one"), ("demo.second", "two")])
        self.assertIsNotNone(DemoMigrator)

    def test_protocol_echo_is_always_known_but_never_declared(self):
        failpoints.declare("demo.step", "a step")
        failpoints.failpoint("protocol.echo")
        self.assertNotIn("protocol.echo", [name for name, _ in failpoints.declarations()])


class ActionTest(CleanRegistry):
    def setUp(self):
        super().setUp()
        failpoints.declare("demo.step", "a step")
        failpoints.declare("demo.other", "another step")

    def test_return_raises_injected_error_with_its_text(self):
        failpoints.arm("demo.step", "return(stripe is down)")
        with self.assertRaises(InjectedError) as raised:
            failpoints.failpoint("demo.step")
        self.assertEqual(raised.exception.failpoint, "demo.step")
        self.assertEqual(str(raised.exception), "failpoint demo.step: stripe is down")
        self.assertEqual(raised.exception.error_name, "InjectedError")

    def test_count_limits_triggers_then_the_chain_falls_through(self):
        observer = RecordingObserver()
        failpoints.set_observer(observer)
        failpoints.arm("demo.step", "2*return(first)->1*return(second)->off")
        self.assertEqual(outcomes("demo.step", 5), ["first", "first", "second", "-", "-"])
        self.assertEqual([f[1] for f in observer.firings],
                         ["return", "return", "return", "off", "off"])

    def test_a_spent_chain_does_nothing(self):
        failpoints.arm("demo.step", "2*return")
        self.assertEqual(outcomes("demo.step", 4), ["", "", "-", "-"])

    def test_reconfiguring_restores_the_count(self):
        for _ in range(2):
            failpoints.arm("demo.step", "1*return(once)")
            self.assertEqual(outcomes("demo.step", 2), ["once", "-"])

    def test_clear_disarms(self):
        failpoints.arm("demo.step", "return")
        failpoints.clear("demo.step")
        self.assertEqual(outcomes("demo.step", 2), ["-", "-"])

    def test_count_holds_across_threads(self):
        failpoints.arm("demo.step", "100*return")
        injected = []

        def hammer():
            injected.append(outcomes("demo.step", 1000).count(""))

        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sum(injected), 100)

    def test_pause_blocks_until_released(self):
        failpoints.arm("demo.step", "pause")
        finished = threading.Event()
        thread = threading.Thread(target=lambda: (failpoints.failpoint("demo.step"), finished.set()))
        thread.start()
        wait_until(lambda: failpoints.paused_count("demo.step") == 1, "the thread to pause")
        self.assertFalse(finished.is_set())
        failpoints.release("demo.step")
        thread.join(PATIENCE_S)
        self.assertTrue(finished.is_set())
        self.assertEqual(failpoints.paused_count("demo.step"), 0)

    def test_clearing_releases_a_paused_caller(self):
        failpoints.arm("demo.step", "pause")
        thread = threading.Thread(target=failpoints.failpoint, args=("demo.step",))
        thread.start()
        wait_until(lambda: failpoints.paused_count("demo.step") == 1, "the thread to pause")
        failpoints.clear("demo.step")
        thread.join(PATIENCE_S)
        self.assertFalse(thread.is_alive())

    def test_async_pause_suspends_only_its_task_until_released(self):
        failpoints.arm("demo.step", "1*pause")
        order = []

        async def paused():
            await failpoints.afailpoint("demo.step")
            order.append("paused task resumed")

        async def scenario():
            task = asyncio.create_task(paused())
            while failpoints.paused_count("demo.step") == 0:
                await asyncio.sleep(0.005)
            order.append("other task ran")
            threading.Thread(target=failpoints.release, args=("demo.step",)).start()
            await asyncio.wait_for(task, PATIENCE_S)

        asyncio.run(scenario())
        self.assertEqual(order, ["other task ran", "paused task resumed"])

    def test_async_sleep_lets_other_tasks_run(self):
        failpoints.arm("demo.step", "sleep(50)")
        order = []

        async def sleeper():
            await failpoints.afailpoint("demo.step")
            order.append("sleeper")

        async def other():
            order.append("other")

        async def scenario():
            await asyncio.gather(sleeper(), other())

        asyncio.run(scenario())
        self.assertEqual(order, ["other", "sleeper"])

    def test_async_return_raises_injected_error(self):
        failpoints.arm("demo.step", "return(async)")
        with self.assertRaisesRegex(InjectedError, "async"):
            asyncio.run(failpoints.afailpoint("demo.step"))


class ProbabilityTest(CleanRegistry):
    def setUp(self):
        super().setUp()
        failpoints.declare("demo.step", "a step")
        failpoints.declare("demo.other", "another step")

    def test_same_seed_same_triggers_and_another_seed_others(self):
        first = trigger_pattern(42)
        self.assertEqual(trigger_pattern(42), first)
        self.assertNotEqual(trigger_pattern(43), first)
        self.assertTrue(any(first) and not all(first))

    def test_hits_of_one_failpoint_do_not_shift_the_draws_of_another(self):
        alone = trigger_pattern(42)
        failpoints.configure("demo.step=50%return;demo.other=50%return(other)")
        interleaved = []
        for i in range(64):
            outcomes("demo.other", i % 3)
            interleaved.append(outcomes("demo.step", 1) != ["-"])
        self.assertEqual(interleaved, alone)

    def test_zero_percent_never_triggers_and_hundred_always_does(self):
        failpoints.configure("demo.step=0%return;demo.other=100%return")
        self.assertEqual(outcomes("demo.step", 50), ["-"] * 50)
        self.assertEqual(outcomes("demo.other", 50), [""] * 50)


class ObservedTest(CleanRegistry):
    """Under orgquake every declared firing is observed, armed or not."""

    def test_unarmed_firings_are_observed_as_off_and_armed_ones_with_their_action(self):
        failpoints.declare("demo.step", "a step")
        failpoints.declare("demo.other", "another")
        observer = RecordingObserver()
        failpoints.set_observer(observer)
        failpoints.configure("demo.other=1*sleep(1)")
        failpoints.failpoint("demo.step")
        failpoints.failpoint("demo.other")
        failpoints.failpoint("protocol.echo")
        self.assertEqual([(f[0], f[1]) for f in observer.firings],
                         [("demo.step", "off"), ("demo.other", "sleep"), ("protocol.echo", "off")])

    def test_a_sealed_registry_rejects_undeclared_names_even_with_none_declared(self):
        failpoints.set_observer(RecordingObserver())
        with self.assertRaisesRegex(ValueError, "unknown failpoint"):
            failpoints.failpoint("demo.typo")

    def test_restricted_declarations_are_all_that_may_fire(self):
        failpoints.declare("demo.kept", "kept")
        failpoints.declare("demo.dropped", "another migrator's")
        failpoints.restrict_declarations(["demo.kept"])
        failpoints.set_observer(RecordingObserver())
        failpoints.failpoint("demo.kept")
        with self.assertRaisesRegex(ValueError, "unknown failpoint"):
            failpoints.failpoint("demo.dropped")


def run_script(source, **environment):
    env = {k: v for k, v in os.environ.items()
           if k not in ("ORGQUAKE_FAILPOINTS", "ORGQUAKE_SEED", "ORGQUAKE_CHANNEL_FD")}
    env.update(environment, PYTHONPATH=SDK_DIR, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([PYTHON, "-c", textwrap.dedent(source)], env=env, capture_output=True,
                          text=True, timeout=PATIENCE_S, start_new_session=True)


class EnvironmentTest(unittest.TestCase):
    """ORGQUAKE_FAILPOINTS arms failpoints outside orgquake (each case in its own process)."""

    SCRIPT = """
        import orgquake
        orgquake.declare("demo.step", "a step")
        try:
            orgquake.failpoint("demo.step")
            print("passed")
        except orgquake.InjectedError as error:
            print("raised", error)
        except ValueError as error:
            print("ValueError", error)
    """

    def test_unset_means_a_no_op(self):
        self.assertEqual(run_script(self.SCRIPT).stdout.strip(), "passed")

    def test_the_environment_arms_declared_failpoints(self):
        result = run_script(self.SCRIPT, ORGQUAKE_FAILPOINTS="demo.step=return(from env)")
        self.assertEqual(result.stdout.strip(), "raised failpoint demo.step: from env")

    def test_a_bad_environment_value_is_a_value_error_naming_the_variable(self):
        result = run_script(self.SCRIPT, ORGQUAKE_FAILPOINTS="demo.step=crsh")
        self.assertIn("ValueError ORGQUAKE_FAILPOINTS: failpoint demo.step", result.stdout)
        result = run_script(self.SCRIPT, ORGQUAKE_FAILPOINTS="demo.stpe=crash")
        self.assertIn('ValueError ORGQUAKE_FAILPOINTS: unknown failpoint "demo.stpe"',
                      result.stdout)

    def test_the_seed_variable_seeds_the_draws(self):
        script = """
            import orgquake
            orgquake.declare("demo.step", "a step")
            pattern = ""
            for _ in range(40):
                try:
                    orgquake.failpoint("demo.step"); pattern += "-"
                except orgquake.InjectedError:
                    pattern += "x"
            print(pattern)
        """
        runs = [run_script(script, ORGQUAKE_FAILPOINTS="demo.step=50%return", ORGQUAKE_SEED=s)
                for s in ("7", "7", "8")]
        self.assertEqual(runs[0].stdout, runs[1].stdout)
        self.assertNotEqual(runs[0].stdout, runs[2].stdout)

    def test_crash_kills_the_process_by_sigkill(self):
        result = run_script(self.SCRIPT, ORGQUAKE_FAILPOINTS="demo.step=crash")
        self.assertEqual(result.returncode, -signal.SIGKILL)
        self.assertEqual(result.stdout, "")


if __name__ == "__main__":
    unittest.main()
