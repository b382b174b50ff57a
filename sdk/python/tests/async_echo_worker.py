"""A tiny SDK-based worker (asyncio) that only runs the built-in echo operation."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import orgquake  # noqa: E402


class AsyncEchoMigrator(orgquake.AsyncMigrator):
    name = "echo_asyncio"
    failpoints = {"echo.after_connect": "the client's connect() has returned"}
    operations = ()

    async def connect(self, plan, client):
        await orgquake.afailpoint("echo.after_connect")
        return {"client": client}


if __name__ == "__main__":
    raise SystemExit(orgquake.main(AsyncEchoMigrator()))
