"""Runs one operation of py_reference outside orgquake, in a process of its own,
so that a test can watch it die by SIGKILL at a failpoint armed with
ORGQUAKE_FAILPOINTS. argv: plan JSON, op kind, user id. Prints the ok value."""

import json
import sys

from orgquake import context
from orgquake.plan import Plan

from py_reference.migrator import PyReference


def main() -> int:
    plan = Plan.from_json(json.loads(sys.argv[1]))
    kind, user = sys.argv[2], sys.argv[3]
    migrator = PyReference()
    state = migrator.connect(plan, 0)
    context.enter(context.OperationContext(client=0, op=1000, user=user))
    value = getattr(migrator, kind)(state, user)
    print(json.dumps(value))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
