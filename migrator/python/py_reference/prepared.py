"""Server-side prepared statements for the lookup's queries.

A lookup runs on every request, and planning the joined query costs PostgreSQL
several times its execution (0.5 ms against 0.1 ms here); the C++ loaders
prepare every statement for that reason. psycopg2 has no extended-protocol
prepare, so this does it in SQL: the first time a connection runs a
statement marked for it, `PREPARE` is sent once, and from then on the
statement goes as `EXECUTE name(params)`. The rows come back with the same
columns in the same order, so the ORM loads them as before.

Mark an engine (or a connection) with the execution option
``py_reference_prepare=True``; SQLAlchemy's compiled cache gives every run of
one statement the same text, which is the key of the per-connection cache
(kept in the DBAPI connection's `info`, dropped with the connection when it
breaks).
"""

from __future__ import annotations

import re

import psycopg2
from sqlalchemy import event
from sqlalchemy.engine import Engine

OPTION = "py_reference_prepare"
_PARAMETER = re.compile(r"%\((\w+)\)s")
_CACHE = "py_reference_prepared"
_MAX_STATEMENTS = 256  # selectin's IN lists give one text per list length


def install(engine: Engine) -> None:
    event.listen(engine, "before_cursor_execute", _use_prepared, retval=True)


def _use_prepared(conn, cursor, statement, parameters, context, executemany):
    if executemany or context is None or not context.execution_options.get(OPTION):
        return statement, parameters
    if not isinstance(parameters, dict):
        return statement, parameters
    cache = conn.info.setdefault(_CACHE, {})
    rewritten = cache.get(statement)
    if rewritten is None:
        if len(cache) >= _MAX_STATEMENTS:
            return statement, parameters
        rewritten = _prepare(cursor, statement, f"py_reference_{len(cache)}")
        cache[statement] = rewritten
    return rewritten, parameters


def _prepare(cursor, statement: str, name: str) -> str:
    names: list[str] = []
    for parameter in _PARAMETER.findall(statement):
        if parameter not in names:
            names.append(parameter)
    text = statement
    for position, parameter in enumerate(names, 1):
        text = text.replace(f"%({parameter})s", f"${position}")
    # Sent without parameters, the text is not %-interpolated: unescape.
    text = text.replace("%%", "%")
    try:
        cursor.execute(f"PREPARE {name} AS {text}")
    except psycopg2.ProgrammingError:
        return statement  # not preparable as written: run it as it is
    if not names:
        return f"EXECUTE {name}"
    return f"EXECUTE {name}(" + ", ".join(f"%({p})s" for p in names) + ")"
