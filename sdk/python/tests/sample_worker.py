"""An SDK worker with lookup and migrate ops that fail on purpose, per user id.

argv[1] picks the flavour: "threads" (orgquake.Migrator) or "asyncio" (AsyncMigrator).
The ok values report how often the client connected and was reset, so a test
can see the worker's reconnect and reset behaviour from outside.
"""

import os
import sys
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import orgquake  # noqa: E402

FAILPOINTS = {
    "sample.after_lock": "the sample holds its pretend lock",
    "sample.before_return": "the sample is about to answer",
}


class CustomLibraryError(Exception):
    """Classified by the migrator's own hook."""


class UnnamedError(Exception):
    """Classified by the hook as a name outside the protocol's list."""


class Behaviour:
    """What the threads and asyncio flavours share: everything but the awaiting."""

    def __init__(self):
        self.lock = threading.Lock()
        self.connect_attempts = {}

    def connect_client(self, client):
        with self.lock:
            attempts = self.connect_attempts[client] = self.connect_attempts.get(client, 0) + 1
        if client == 1 and attempts == 1:
            raise ConnectionRefusedError("pretend Redis refused the first connection")
        return {"connects": attempts, "resets": 0}

    @staticmethod
    def lookup_value(state, user):
        if user == "unknown":
            raise orgquake.UnknownUser(f"no legacy user {user}")
        if user == "flaky":
            raise orgquake.MigrationError("pretend Stripe answered 500\nwith a second line")
        if user == "custom":
            raise CustomLibraryError("pretend redis-py timed out")
        if user == "unnamed":
            raise UnnamedError("a name outside the list")
        return {"verified": True, "org_id": f"org-{user}", "migrated_here": False,
                "connects": state["connects"], "resets": state["resets"]}

    @staticmethod
    def classify_error(exc):
        if isinstance(exc, CustomLibraryError):
            return ("RedisUnavailable", False)
        if isinstance(exc, UnnamedError):
            return ("NotAProtocolName", True)
        return None


class SampleMigrator(orgquake.Migrator):
    name = "sample_threads"
    failpoints = FAILPOINTS
    operations = ("lookup", "migrate")

    def __init__(self):
        self.behaviour = Behaviour()

    def connect(self, plan, client):
        return self.behaviour.connect_client(client)

    def lookup(self, state, user):
        for _ in range(3):
            orgquake.note_lock_wait()
        orgquake.failpoint("sample.after_lock")
        value = self.behaviour.lookup_value(state, user)
        orgquake.failpoint("sample.before_return")
        return value

    def migrate(self, state, user):
        return {"released": True, "org_id": f"org-{user}"}

    def classify(self, exc):
        return self.behaviour.classify_error(exc)

    def reset(self, state):
        state["resets"] += 1


class AsyncSampleMigrator(orgquake.AsyncMigrator):
    name = "sample_asyncio"
    failpoints = FAILPOINTS
    operations = ("lookup", "migrate")

    def __init__(self):
        self.behaviour = Behaviour()

    async def connect(self, plan, client):
        return self.behaviour.connect_client(client)

    async def lookup(self, state, user):
        for _ in range(3):
            orgquake.note_lock_wait()
        await orgquake.afailpoint("sample.after_lock")
        value = self.behaviour.lookup_value(state, user)
        await orgquake.afailpoint("sample.before_return")
        return value

    async def migrate(self, state, user):
        # The mistake the SDK must catch: a sync failpoint inside a coroutine.
        orgquake.failpoint("sample.after_lock")
        return {"released": True, "org_id": f"org-{user}"}

    def classify(self, exc):
        return self.behaviour.classify_error(exc)

    async def reset(self, state):
        state["resets"] += 1


if __name__ == "__main__":
    flavour = sys.argv[1] if len(sys.argv) > 1 else "threads"
    raise SystemExit(orgquake.main(AsyncSampleMigrator if flavour == "asyncio" else SampleMigrator))
