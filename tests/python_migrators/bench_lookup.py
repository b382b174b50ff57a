"""By hand: how long py_reference's fast-path lookup takes per strategy, and how
many statements it sends, against real servers started here and stopped at the end.

    /usr/bin/python3 tests/python_migrators/bench_lookup.py [--lookups N] [--pause]

--pause prints the worker's pid and waits before the timed loop (for strace -p).
"""

import argparse
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1] / "sdk" / "python"),
                str(HERE.parents[1] / "migrator" / "python")]

import support  # noqa: E402
from orgquake import context  # noqa: E402
from orgquake.plan import Plan  # noqa: E402
from sqlalchemy import event  # noqa: E402

from py_reference.migrator import PyReference  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--pause", action="store_true")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    services = support.Services()
    try:
        url = services.create_database(f"pyref_bench_{os.getpid()}")
        users = support.make_users("bench")
        support.load_world(services, url, users)
        migrator = PyReference()
        for strategy in ("joined", "selectin", "n_plus_one"):
            plan = Plan.from_json(support.plan_json(services, url, f"bench:{strategy}",
                                                    strategy=strategy))
            state = migrator.connect(plan, 0)
            context.enter(context.OperationContext(client=0, op=1, user=""))
            for u in users:
                migrator.lookup(state, u.user_id)
            statements = []

            def count(*_):
                statements.append(1)

            event.listen(state.engine, "before_cursor_execute", count)
            migrator.lookup(state, users[3].user_id)
            event.remove(state.engine, "before_cursor_execute", count)
            per_lookup = len(statements)
            if args.pause and strategy == "joined":
                print(f"pid {os.getpid()}: attach now, then press enter", flush=True)
                sys.stdin.readline()
            profile = None
            if args.profile:
                import cProfile
                profile = cProfile.Profile()
                profile.enable()
            started = time.perf_counter()
            for i in range(args.lookups):
                migrator.lookup(state, users[i % len(users)].user_id)
            elapsed = time.perf_counter() - started
            if profile is not None:
                import pstats
                profile.disable()
                pstats.Stats(profile).sort_stats("cumulative").print_stats(25)
            print(f"{strategy:11s} {elapsed / args.lookups * 1e6:8.1f} us/lookup, "
                  f"{per_lookup} statements (user with two keys)", flush=True)
            state.engine.dispose()
    finally:
        services.stop()


if __name__ == "__main__":
    main()
