"""`python3 -m py_reference`: one orgquake worker process of the Python reference migrator."""

import sys

# httpx imports its command-line client (rich, click, pygments) unless that
# fails: a worker never runs it, and every crash a scenario injects starts a
# new worker, so skip ~120 ms of imports per start.
sys.modules.setdefault("httpx._main", None)

import orgquake  # noqa: E402

from py_reference.migrator import PyReference  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(orgquake.main(PyReference))
