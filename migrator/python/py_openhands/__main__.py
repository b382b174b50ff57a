"""`python3 -m py_openhands`: one orgquake worker process of the OpenHands-shaped migrator."""

import sys

# As py_reference: a worker never runs httpx's command-line client.
sys.modules.setdefault("httpx._main", None)

import orgquake  # noqa: E402

from py_openhands.migrator import PyOpenHands  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(orgquake.main(PyOpenHands))
