"""A tiny SDK-based worker (threads) that only runs the built-in echo operation."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import orgquake  # noqa: E402


class EchoMigrator(orgquake.Migrator):
    name = "echo_threads"
    failpoints = {
        "echo.after_connect": "the client's connect() has returned",
        "echo.unused": "declared, never fired: a worker may declare more than it fires",
    }
    operations = ()

    def connect(self, plan, client):
        orgquake.failpoint("echo.after_connect")
        return {"client": client}


if __name__ == "__main__":
    raise SystemExit(orgquake.main(EchoMigrator))
