"""Checks a ci-suite run of py_openhands (its results.json): the run is invalid,
and at least four of the bug classes its README maps to an invariant's symptom
were found, each with the command that replays the first trial showing it.
argv: the run directory."""

import json
import sys
from pathlib import Path

# The README's table: catalog class -> (invariant, symptom codes that show it).
EXPECTED = {
    "wait_for_lock_forever": ("lock_wait_bounded", {"lock_wait_unbounded"}),
    "lock_without_expiry": ("lock_expiry_recovery", {"served_too_late", "never_served"}),
    "subscriptions_left_on_user": ("billing_follows_org", {"subscription_on_user"}),
    "skip_litellm_when_budget_lifted": ("litellm_migrated_once",
                                        {"key_left_on_user", "not_team_member"}),
    # Seen when a migration without a lease falls in a stretch MONITOR watched:
    # Redis is being stopped or started around it, so not in every run.
    "no_lock_when_redis_down": ("migration_under_lease",
                                {"migrated_without_lease", "migrated_without_lease_redis_down"}),
}
AT_LEAST = 4


def shows(trial, invariant, symptoms) -> bool:
    return any(i["name"] == invariant and i["verdict"] == "invalid"
               and any(e.get("symptom") in symptoms for e in i.get("evidence", []))
               for i in trial["invariants"])


def main() -> int:
    results = json.loads((Path(sys.argv[1]) / "results.json").read_text())
    failures = []
    if results["verdict"] != "invalid":
        failures.append(f"the run is {results['verdict']}, not invalid")
    found = 0
    for bug, (invariant, symptoms) in EXPECTED.items():
        trials = [t for t in results["trials"] if shows(t, invariant, symptoms)]
        if not trials:
            print(f"{bug:<32} not seen in this run ({invariant}: {', '.join(sorted(symptoms))})")
            continue
        first = trials[0]
        if not first.get("repro"):
            failures.append(f"{bug}: trial {first['index']} has no repro command")
            continue
        found += 1
        print(f"{bug:<32} {invariant:<22} {len(trials)} trials, first {first['scenario']}: "
              f"{first['repro']}")
    if found < AT_LEAST:
        failures.append(f"only {found} of the {len(EXPECTED)} expected bug classes were found "
                        f"(at least {AT_LEAST} must be)")
    for failure in failures:
        print("FAIL", failure)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
