"""Which client and operation is running here, for threads and asyncio tasks alike.

A failpoint deep in a migrator has only a name; the worker learns from this
context which client and operation fired it. A thread starts with an empty
context and an asyncio task with a copy of its creator's, so each client sees
its own. Work handed to another thread loses it unless run under
`contextvars.copy_context().run` (asyncio.to_thread does that).
"""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field


@dataclass
class OperationContext:
    """The running client and operation; client and op are -1 outside any."""

    client: int = -1
    op: int = -1
    user: str = ""
    lock_waits: int = 0
    # note_lock_wait may be called from several threads of one operation.
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)


NO_OPERATION = OperationContext()

_current: contextvars.ContextVar[OperationContext] = contextvars.ContextVar(
    "orgquake_operation", default=NO_OPERATION
)


def current() -> OperationContext:
    """The operation running in this thread or task (NO_OPERATION outside one)."""
    return _current.get()


def enter(operation: OperationContext) -> contextvars.Token:
    """Makes `operation` current; pass the token to leave()."""
    return _current.set(operation)


def leave(token: contextvars.Token) -> None:
    _current.reset(token)


# The HTTP header naming the operation an API request serves: an HTTP fault
# scoped to one operation meets only the requests that carry its id.
OPERATION_HEADER = "Orgquake-Operation"


def operation_headers() -> dict[str, str]:
    """The headers that tag an API request with the running operation
    ({"Orgquake-Operation": "17"}), or none outside an operation: add them to
    every Stripe and LiteLLM request, so that HTTP faults scoped to an
    operation (docs/worker-protocol.md) find its requests."""
    operation = _current.get()
    if operation is NO_OPERATION or operation.op < 0:
        return {}
    return {OPERATION_HEADER: str(operation.op)}


def note_lock_wait(n: int = 1) -> None:
    """Counts `n` lock attempts of the current operation that found the lock held."""
    operation = _current.get()
    if operation is NO_OPERATION:
        return
    with operation._lock:
        operation.lock_waits += n
