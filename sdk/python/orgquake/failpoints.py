"""The failpoint registry: declared names, armed chains, firing, pause and release.

A call site has only a name, so this module holds the process's one set of
failpoints. `failpoint(name)` is for threads, `await afailpoint(name)` for
asyncio. Disarmed and unobserved, a failpoint costs a dict lookup and an
attribute read.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import signal
import threading
import time

from .errors import InjectedError
from .failpoint_grammar import Spec, Term, parse_configuration, parse_spec

ENVIRONMENT_VARIABLE = "ORGQUAKE_FAILPOINTS"
SEED_VARIABLE = "ORGQUAKE_SEED"
# Fired by the built-in `echo` operation; never declared in ready.
ECHO_FAILPOINT = "protocol.echo"

_NAME = re.compile(r"[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)+\Z")
# A suggestion farther than this is more likely to mislead than to help.
_MAX_SUGGESTION_DISTANCE = 4


class _Point:
    __slots__ = (
        "name", "description", "declared", "quiet", "spec", "remaining", "rng",
        "generation", "paused", "async_waiters",
    )

    def __init__(self, name: str, description: str, declared: bool):
        self.name = name
        self.description = description
        # False for the reserved echo failpoint and for names armed before any declaration.
        self.declared = declared
        # True when firing can do nothing: the hot path returns on it.
        self.quiet = True
        self.spec: Spec | None = None
        # Triggers left for each term with an n* budget, parallel to spec.terms.
        self.remaining: list[int] = []
        self.rng = random.Random(0)
        # Bumped by every release and reconfiguration; a paused caller waits for it to move.
        self.generation = 0
        self.paused = 0
        self.async_waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future]] = []


_lock = threading.Lock()
_released = threading.Condition(_lock)
_points: dict[str, _Point] = {}
_declared_count = 0
_explicit: dict[str, str] = {}
_seed = 0
_observer = None
_sealed = False
_environment_pending = False


def _initial_seed() -> int:
    text = os.environ.get(SEED_VARIABLE, "0")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{SEED_VARIABLE}: {text!r} is not a whole number") from None


def _stream(name: str) -> random.Random:
    # One stream per failpoint, so hits of one never shift the draws of another.
    return random.Random(f"{_seed}:{name}")


def _refresh(point: _Point) -> None:
    # The caller holds _lock.
    observed = _observer is not None and (point.declared or point.name == ECHO_FAILPOINT)
    point.quiet = not (point.spec is not None or observed or _environment_pending)


def _refresh_all() -> None:
    for point in _points.values():
        _refresh(point)


def _edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1,
                             previous[j - 1] + (a[i - 1] != b[j - 1]))
        previous = current
    return previous[len(b)]


def _unknown_name_error(name: str) -> ValueError:
    known = [p.name for p in _points.values() if p.declared]
    best = min(known, key=lambda known_name: _edit_distance(name, known_name), default=None)
    if best is not None and _edit_distance(name, best) <= _MAX_SUGGESTION_DISTANCE:
        return ValueError(f'unknown failpoint "{name}" (did you mean "{best}"?); '
                          "the migrator's declarations list every failpoint")
    return ValueError(f'unknown failpoint "{name}"; the migrator\'s declarations list every failpoint')


def _strict() -> bool:
    return _sealed or _declared_count > 0


def _require(name: str) -> _Point | None:
    # The caller holds _lock. None: a name accepted without declarations.
    point = _points.get(name)
    if point is not None and (point.declared or name == ECHO_FAILPOINT or not _strict()):
        return point
    if point is None and not _strict():
        return None
    raise _unknown_name_error(name)


def declare(name: str, description: str) -> None:
    """Declares a failpoint outside any Migrator class; the worker's ready lists it."""
    declare_for_class(name, description)
    with _lock:
        _explicit[name] = description


def explicit_declarations() -> list[tuple[str, str]]:
    """(name, description) of the failpoints declared by declare(), in order."""
    with _lock:
        return list(_explicit.items())


def declare_for_class(name: str, description: str) -> None:
    """Declares a failpoint of a Migrator class (which lists it in its ready)."""
    global _declared_count
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(f"failpoint name {name!r} is not area.step (letters, digits, '_', dots)")
    if name == ECHO_FAILPOINT:
        raise ValueError(f"failpoint {name} is reserved for the protocol's echo operation")
    if not isinstance(description, str) or not description.strip():
        raise ValueError(f"failpoint {name}: the description must be a non-empty string")
    with _lock:
        point = _points.get(name)
        if point is None:
            point = _points[name] = _Point(name, description, False)
            point.rng = _stream(name)
        if not point.declared:
            point.declared = True
            _declared_count += 1
            if _declared_count == 1:
                _drop_placeholders()
        point.description = description
        _refresh(point)


def restrict_declarations(names) -> None:
    """Keeps only `names` declared: what ready announced is all a worker may report."""
    global _declared_count
    keep = frozenset(names)
    with _lock:
        # Removed, not just undeclared, so that the hot path's lookup misses and raises.
        for name in [n for n in _points if n not in keep and n != ECHO_FAILPOINT]:
            _release_locked(_points.pop(name))
        for name in [n for n in _explicit if n not in keep]:
            del _explicit[name]
        _declared_count = sum(1 for point in _points.values() if point.declared)


def declarations() -> list[tuple[str, str]]:
    """(name, description) of every declared failpoint, in declaration order."""
    with _lock:
        return [(p.name, p.description) for p in _points.values() if p.declared]


def describe() -> list[tuple[str, str, str]]:
    """(name, description, canonical configuration or "") of every declared failpoint."""
    with _lock:
        return [(p.name, p.description, str(p.spec) if p.spec else "")
                for p in _points.values() if p.declared]


def set_seed(seed: int) -> None:
    """Seeds the p% draws and restarts every failpoint's stream."""
    global _seed
    with _lock:
        _seed = int(seed)
        for point in _points.values():
            point.rng = _stream(point.name)


def _arm(point: _Point, spec: Spec) -> None:
    point.spec = spec
    point.remaining = [term.max_triggers or 0 for term in spec.terms]
    point.rng = _stream(point.name)
    _release_locked(point)
    _refresh(point)


def _disarm(point: _Point) -> None:
    point.spec = None
    point.remaining = []
    _release_locked(point)
    _refresh(point)


def configure(text: str) -> None:
    """Applies `name=spec[;name=spec...]`; nothing changes if any part is wrong."""
    with _lock:
        settings = parse_configuration(text, check_name=_require)
        for name, spec in settings:
            point = _points.get(name)
            if point is None:  # armed before any declaration: keep it until declared
                point = _points[name] = _Point(name, "", False)
            _arm(point, spec)


def arm(name: str, spec_text: str) -> None:
    """Arms one failpoint with a chain such as "2*sleep(100)->off" (the C++ set())."""
    with _lock:
        _require(name)
        spec = parse_spec(name, spec_text)
        point = _points.get(name) or _points.setdefault(name, _Point(name, "", False))
        _arm(point, spec)


def configure_from_environment() -> bool:
    """Applies ORGQUAKE_FAILPOINTS if set; a bad value raises ValueError naming it."""
    global _environment_pending
    with _lock:
        _environment_pending = False
        _refresh_all()
    text = os.environ.get(ENVIRONMENT_VARIABLE)
    if text is None:
        return False
    try:
        configure(text)
    except ValueError as error:
        raise ValueError(f"{ENVIRONMENT_VARIABLE}: {error}") from None
    return True


def ignore_environment() -> None:
    """Drops ORGQUAKE_FAILPOINTS: under orgquake the plan alone arms failpoints."""
    global _environment_pending
    with _lock:
        _environment_pending = False
        _refresh_all()


def clear(name: str) -> None:
    """Disarms one failpoint; callers paused at it are released."""
    with _lock:
        point = _require(name)
        if point is not None:
            _disarm(point)


def clear_all() -> None:
    with _lock:
        for point in _points.values():
            _disarm(point)


def _release_locked(point: _Point) -> None:
    point.generation += 1
    _released.notify_all()
    waiters, point.async_waiters = point.async_waiters, []
    for loop, future in waiters:
        loop.call_soon_threadsafe(_resolve, future)


def _resolve(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def release(name: str) -> None:
    """Wakes every caller paused at `name`; a later pause pauses again."""
    with _lock:
        point = _require(name)
        if point is not None:
            _release_locked(point)


def release_all() -> None:
    with _lock:
        for point in _points.values():
            _release_locked(point)


def paused_count(name: str) -> int:
    """How many callers are blocked at `name` right now."""
    with _lock:
        point = _require(name)
        return point.paused if point is not None else 0


def set_observer(observer, *, seal: bool = True) -> None:
    """Installs the worker's observer (None removes it).

    The observer's observe(name, term) / async aobserve(name, term) run before
    the action, for every firing of a declared failpoint (term None when no
    term triggered); they may block, raise or kill the process. `seal`: an
    undeclared name raises even when nothing is declared.
    """
    global _observer, _sealed
    with _lock:
        _observer = observer
        _sealed = seal and observer is not None
        if _sealed:
            _drop_placeholders()
        _refresh_all()


def reset() -> None:
    """Forgets every declaration, configuration and observer (for tests)."""
    global _declared_count, _observer, _sealed, _environment_pending, _seed
    with _lock:
        for point in _points.values():
            _release_locked(point)
        _points.clear()
        _points[ECHO_FAILPOINT] = _Point(ECHO_FAILPOINT, "", False)
        _declared_count = 0
        _explicit.clear()
        _observer = None
        _sealed = False
        _seed = _initial_seed()
        _environment_pending = ENVIRONMENT_VARIABLE in os.environ
        _refresh_all()


def _choose(point: _Point) -> Term | None:
    # The caller holds _lock. Tries the terms in order, as fail-rs does: a spent
    # n* budget or a missed p% draw passes to the next term.
    spec = point.spec
    if spec is None:
        return None
    for i, term in enumerate(spec.terms):
        if term.max_triggers is not None and point.remaining[i] == 0:
            continue
        # 100% draws nothing, so adding a certain term leaves the stream as it was.
        if term.percent < 100.0 and not point.rng.random() < term.percent / 100.0:
            continue
        if term.max_triggers is not None:
            point.remaining[i] -= 1
        return term
    return None


def _lookup_slow(name: str) -> _Point | None:
    # Reached for a name not in _points: maybe armed by the environment, else
    # fine only while nothing is declared (a typo must not pass silently).
    if _environment_pending:
        configure_from_environment()
    point = _points.get(name)
    if point is not None:
        return None if point.quiet else point
    with _lock:
        if _strict():
            raise _unknown_name_error(name)
        # Remembered as a quiet placeholder, so that the next call is one dict
        # lookup; the first declaration drops placeholders to check names again.
        _points.setdefault(name, _Point(name, "", False))
    return None


def _drop_placeholders() -> None:
    # The caller holds _lock.
    for name in [n for n, p in _points.items()
                 if not p.declared and p.spec is None and n != ECHO_FAILPOINT]:
        del _points[name]


def _decide(point: _Point):
    if _environment_pending:
        configure_from_environment()
    with _lock:
        term = _choose(point)
        observer = _observer if (point.declared or point.name == ECHO_FAILPOINT) else None
        return term, observer, point.generation


def crash_process() -> None:
    """Dies by SIGKILL at once, as a killed server does: no cleanup, no flush."""
    os.kill(os.getpid(), signal.SIGKILL)
    while True:  # never let the caller continue if delivery is late
        time.sleep(1)


def _wait_for_release(point: _Point, generation_at_hit: int) -> None:
    with _lock:
        point.paused += 1
        try:
            _released.wait_for(lambda: point.generation != generation_at_hit)
        finally:
            point.paused -= 1


async def _await_release(point: _Point, generation_at_hit: int) -> None:
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    with _lock:
        if point.generation != generation_at_hit:
            return
        point.async_waiters.append((loop, future))
        point.paused += 1
    try:
        await future
    finally:
        with _lock:
            point.paused -= 1


def _perform(point: _Point, term: Term, generation: int) -> None:
    action = term.action
    if action == "return":
        raise InjectedError(point.name, term.text)
    if action == "sleep":
        time.sleep(term.duration_ms / 1000)
    elif action == "yield":
        time.sleep(0)  # lets the other threads run, as a fiber's yield does
    elif action == "pause":
        _wait_for_release(point, generation)
    elif action == "crash":
        crash_process()


async def _aperform(point: _Point, term: Term, generation: int) -> None:
    action = term.action
    if action == "return":
        raise InjectedError(point.name, term.text)
    if action == "sleep":
        await asyncio.sleep(term.duration_ms / 1000)
    elif action == "yield":
        await asyncio.sleep(0)
    elif action == "pause":
        await _await_release(point, generation)
    elif action == "crash":
        crash_process()


def failpoint(name: str) -> None:
    """Fires the failpoint `name` in a thread (blocking only this thread)."""
    point = _points.get(name)
    if point is None:
        point = _lookup_slow(name)
        if point is None:
            return
    if point.quiet:
        return
    term, observer, generation = _decide(point)
    if observer is not None:
        observer.observe(point.name, term)
    if term is not None:
        _perform(point, term, generation)


async def afailpoint(name: str) -> None:
    """Fires the failpoint `name` in an asyncio task (suspending only this task)."""
    point = _points.get(name)
    if point is None:
        point = _lookup_slow(name)
        if point is None:
            return
    if point.quiet:
        return
    term, observer, generation = _decide(point)
    if observer is not None:
        await observer.aobserve(point.name, term)
    if term is not None:
        await _aperform(point, term, generation)


reset()
