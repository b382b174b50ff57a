"""The migration's one transaction, on a connection that otherwise autocommits.

The engine runs in AUTOCOMMIT (each statement its own transaction, as the C++
migrator's statements outside its PgTransaction), so the transaction is
spelled out as the C++ PgTransaction does it: BEGIN, the statements, COMMIT;
ROLLBACK on any error, and a connection that cannot even roll back is
invalidated rather than returned to the pool with a transaction open.
"""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import text

_BEGIN = text("BEGIN")
_COMMIT = text("COMMIT")
_ROLLBACK = text("ROLLBACK")


@contextmanager
def transaction(state):
    """A Session whose statements run in one transaction, committed when the block ends."""
    with state.autocommit() as session:
        session.execute(_BEGIN)
        try:
            yield session
            session.flush()
        except BaseException:
            try:
                session.execute(_ROLLBACK)
            except Exception:  # noqa: BLE001 - the connection is gone: never reuse it
                session.connection().invalidate()
            raise
        session.execute(_COMMIT)
