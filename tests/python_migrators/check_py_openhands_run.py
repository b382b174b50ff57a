"""Checks a ci-suite run of py_openhands (its results.json): the run is invalid,
and each bug class its README maps to an invariant was found, with the
command that replays the first trial showing it. argv: the run directory."""

import json
import sys
from pathlib import Path

# The README's table: catalog class -> the invariant that shows it in the ci suite.
EXPECTED = {
    "wait_for_lock_forever": "lock_wait_bounded",
    "lock_without_expiry": "lock_expiry_recovery",
    "no_lock_when_redis_down": "migration_under_lease",
    "subscriptions_left_on_user": "billing_follows_org",
}


def main() -> int:
    results = json.loads((Path(sys.argv[1]) / "results.json").read_text())
    failures = []
    if results["verdict"] != "invalid":
        failures.append(f"the run is {results['verdict']}, not invalid")
    for bug, invariant in EXPECTED.items():
        trials = [t for t in results["trials"]
                  if any(i["name"] == invariant and i["verdict"] == "invalid"
                         for i in t["invariants"])]
        if not trials:
            failures.append(f"{bug}: no trial found {invariant} invalid")
            continue
        first = trials[0]
        if not first.get("repro"):
            failures.append(f"{bug}: trial {first['index']} has no repro command")
            continue
        print(f"{bug:<28} {invariant:<22} {len(trials)} trials, first {first['scenario']}: "
              f"{first['repro']}")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
