"""The rollout flag of the `serve` operation (docs/worker-protocol.md, "The
`serve` operation and the rollout flag"): which users a request serves
through the organization model.

The rule that places a user in the rollout is part of the protocol: the
invariants judge every migrator's requests by their own copy of it, so a
migrator must use exactly this one (migrator/rollout.cpp is the C++ copy).

Standard library only: `read_rollout_flag` takes any DB-API 2 connection or
cursor (psycopg2, psycopg); a migrator on another database layer runs
`ROLLOUT_FLAG_SQL` itself and builds the flag with `RolloutFlag.from_row`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .errors import PgError

# The flag's row in rollout_flag (schema file migrator/schema/0004_rollout_flag.sql).
ORG_PATH_FLAG = "org_path"

# The one statement a request reads the flag with. The allow list comes as
# JSON text, so that no driver's array handling is needed; the name is
# inline, so that the text is the same under every paramstyle.
ROLLOUT_FLAG_SQL = (
    "SELECT percentage, version, to_json(allow_list)::text FROM rollout_flag "
    f"WHERE name = '{ORG_PATH_FLAG}'"
)

_FNV_OFFSET = 0xCBF29CE484222325
_FNV_PRIME = 0x100000001B3
_MASK = 0xFFFFFFFFFFFFFFFF
_PREFIX = (ORG_PATH_FLAG + ":").encode()


def rollout_bucket(user_id: str) -> int:
    """The user's place in the rollout, 0..99: FNV-1a (64 bits) of the UTF-8
    bytes of "org_path:" and the legacy user id, modulo 100. A percentage p
    covers buckets 0..p-1, so widening the rollout only ever adds users."""
    h = _FNV_OFFSET
    for byte in _PREFIX + user_id.encode("utf-8"):
        h = ((h ^ byte) * _FNV_PRIME) & _MASK
    return h % 100


@dataclass(frozen=True)
class RolloutFlag:
    """The flag as a request read it."""

    percentage: int = 0  # 0..100: users whose bucket is below it
    allow_list: tuple[str, ...] = ()  # legacy user ids in the rollout whatever their bucket
    version: int = 0  # grows with every change; 0 is the schema's state

    def __post_init__(self):
        # A list given is kept as a tuple: the flag stays hashable and frozen.
        object.__setattr__(self, "allow_list", tuple(self.allow_list))

    def covers(self, user_id: str) -> bool:
        """Whether the flag serves the user through the org path."""
        return user_id in self.allow_list or rollout_bucket(user_id) < self.percentage

    @classmethod
    def from_row(cls, row) -> "RolloutFlag":
        """The flag from a row of ROLLOUT_FLAG_SQL: (percentage, version, allow list as JSON
        text; a list is taken as it is)."""
        percentage, version, allow_list = row
        if isinstance(allow_list, (str, bytes)):
            allow_list = json.loads(allow_list)
        if not isinstance(allow_list, list) or not all(isinstance(u, str) for u in allow_list):
            raise ValueError(f"rollout_flag's allow list is not a list of ids: {allow_list!r}")
        return cls(percentage=int(percentage), allow_list=tuple(allow_list), version=int(version))


def read_rollout_flag(connection) -> RolloutFlag:
    """The flag as a request reads it, one statement, through a DB-API 2
    connection or cursor. Raises PgError when the table has no org_path row."""
    cursor = connection.cursor() if hasattr(connection, "cursor") else connection
    try:
        cursor.execute(ROLLOUT_FLAG_SQL)
        row = cursor.fetchone()
    finally:
        if cursor is not connection:
            cursor.close()
    if row is None:
        raise PgError(f"rollout_flag has no row named {ORG_PATH_FLAG}")
    return RolloutFlag.from_row(row)
