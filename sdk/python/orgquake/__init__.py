"""The orgquake worker SDK: run a Python migrator under the orgquake controller."""

from .context import OPERATION_HEADER, note_lock_wait, operation_headers
from .errors import (
    FencedOut,
    HttpError,
    InjectedError,
    LockTimeout,
    MigrationError,
    OrgquakeError,
    PgConnectionError,
    PgError,
    RedisUnavailable,
    UnknownUser,
    VerificationError,
    classify,
)
from .failpoints import afailpoint, declare, failpoint
from .migrator import AsyncMigrator, Migrator
from .plan import (ClientPlan, Endpoints, LockOptions, LookupOptions, Operation, Plan,
                   redis_client_name, connection_name)
from .rollout import (ORG_PATH_FLAG, ROLLOUT_FLAG_SQL, RolloutFlag, read_rollout_flag,
                      rollout_bucket)
from .worker import PROTOCOL_VERSION, main

__all__ = [
    "AsyncMigrator", "ClientPlan", "Endpoints", "FencedOut", "HttpError", "InjectedError",
    "LockOptions", "LockTimeout", "LookupOptions", "MigrationError", "Migrator",
    "OPERATION_HEADER", "ORG_PATH_FLAG", "Operation", "OrgquakeError", "PROTOCOL_VERSION",
    "PgConnectionError", "PgError", "Plan", "ROLLOUT_FLAG_SQL", "RedisUnavailable",
    "RolloutFlag", "UnknownUser", "VerificationError", "afailpoint", "classify",
    "connection_name", "declare", "failpoint", "main", "note_lock_wait", "operation_headers",
    "read_rollout_flag", "redis_client_name", "rollout_bucket",
]
