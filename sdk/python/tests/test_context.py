"""A firing is attributed to the client and operation that fired it, in threads and tasks."""

import asyncio
import threading

from orgquake import OPERATION_HEADER, context, failpoints, note_lock_wait, operation_headers
from tests.support import CleanRegistry, RecordingObserver


def run_operation(client, op, user, before_firing=None):
    token = context.enter(context.OperationContext(client=client, op=op, user=user))
    try:
        if before_firing:
            before_firing()
        failpoints.failpoint("demo.step")
    finally:
        context.leave(token)


class AttributionTest(CleanRegistry):
    def setUp(self):
        super().setUp()
        failpoints.declare("demo.step", "a step")
        self.observer = RecordingObserver()
        failpoints.set_observer(self.observer)

    def test_a_firing_outside_any_operation_names_client_and_op_minus_one(self):
        failpoints.failpoint("demo.step")
        self.assertEqual(self.observer.firings, [("demo.step", "off", -1, -1, "")])

    def test_threads_each_see_their_own_operation(self):
        # Every thread enters its operation, then all fire together, so that a
        # context shared between threads would misattribute.
        barrier = threading.Barrier(8)
        threads = [threading.Thread(target=run_operation, args=(i, 100 + i, f"u{i}", barrier.wait))
                   for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sorted(f[2:] for f in self.observer.firings),
                         [(i, 100 + i, f"u{i}") for i in range(8)])

    def test_asyncio_tasks_each_see_their_own_operation(self):
        async def operation(client):
            context.enter(context.OperationContext(client=client, op=200 + client, user=f"t{client}"))
            await asyncio.sleep(0)  # let every other task enter its own operation first
            await failpoints.afailpoint("demo.step")

        async def scenario():
            await asyncio.gather(*(operation(i) for i in range(8)))

        asyncio.run(scenario())
        self.assertEqual(sorted(f[2:] for f in self.observer.firings),
                         [(i, 200 + i, f"t{i}") for i in range(8)])
        self.assertIs(context.current(), context.NO_OPERATION)

    def test_leaving_an_operation_restores_the_outer_context(self):
        token = context.enter(context.OperationContext(client=3))
        run_operation(3, 7, "u7")
        failpoints.failpoint("demo.step")
        context.leave(token)
        self.assertEqual([f[2:] for f in self.observer.firings], [(3, 7, "u7"), (3, -1, "")])


class LockWaitTest(CleanRegistry):
    def test_note_lock_wait_counts_for_the_current_operation_only(self):
        first = context.OperationContext(client=0, op=1)
        second = context.OperationContext(client=1, op=2)

        def wait_in(operation, times):
            token = context.enter(operation)
            for _ in range(times):
                note_lock_wait()
            note_lock_wait(2)
            context.leave(token)

        threads = [threading.Thread(target=wait_in, args=(first, 3)),
                   threading.Thread(target=wait_in, args=(second, 5))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual((first.lock_waits, second.lock_waits), (5, 7))

    def test_note_lock_wait_outside_an_operation_changes_nothing(self):
        note_lock_wait()
        self.assertEqual(context.NO_OPERATION.lock_waits, 0)


class OperationHeadersTest(CleanRegistry):
    def test_a_request_inside_an_operation_is_tagged_with_its_id(self):
        seen = []
        token = context.enter(context.OperationContext(client=1, op=17, user="u"))
        try:
            seen.append(operation_headers())
        finally:
            context.leave(token)
        seen.append(operation_headers())  # outside any: no header
        self.assertEqual(seen, [{"Orgquake-Operation": "17"}, {}])
        self.assertEqual(OPERATION_HEADER, "Orgquake-Operation")  # the fakes read this name
