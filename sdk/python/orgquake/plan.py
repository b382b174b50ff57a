"""The plan message as dataclasses; parsing checks every listed field's type."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Endpoints:
    postgres_url: str
    redis_url: str
    stripe_url: str
    stripe_secret_key: str
    litellm_url: str
    litellm_master_key: str
    http_request_timeout_ms: int


@dataclass(frozen=True)
class LockOptions:
    ttl_ms: int
    max_wait_ms: int
    retry_min_ms: int
    retry_max_ms: int
    command_timeout_ms: int
    key_prefix: str
    fence_prefix: str


@dataclass(frozen=True)
class LookupOptions:
    strategy: str
    fast_path: bool


@dataclass(frozen=True)
class Operation:
    op: int
    kind: str
    user: str


def connection_name(worker: int, client: int) -> str:
    """The name a client's connections carry, "orgquake:w3:c0": its Redis ones (CLIENT
    SETNAME), so that the harness, watching the lock through Redis's MONITOR, attributes
    their lock commands to that client's operations; and its PostgreSQL sessions
    (application_name), so that a backend kill at one of its failpoints terminates that
    client's session rather than every busy one (docs/worker-protocol.md)."""
    return f"orgquake:w{worker}:c{client}"


# The name it had when only Redis connections carried it.
redis_client_name = connection_name


@dataclass(frozen=True)
class ClientPlan:
    start_delay_ms: int
    ops: list[Operation] = field(default_factory=list)


@dataclass(frozen=True)
class Plan:
    worker: int
    phase: str
    seed: int
    migrator: str
    trial_start_ns: int
    endpoints: Endpoints
    lock: LockOptions
    lookup: LookupOptions
    failpoints: str
    gated_failpoints: list[str]
    clients: list[ClientPlan]

    def connection_name(self, client: int) -> str:
        """The connection name of this worker's `client`: give it to redis-py as
        `redis.Redis(..., client_name=plan.connection_name(client))` and to PostgreSQL as
        `application_name`."""
        return connection_name(self.worker, client)

    redis_client_name = connection_name

    @staticmethod
    def from_json(message: Any) -> "Plan":
        """The plan in a `plan` message; ValueError names the first wrong field."""
        return _parse_plan(_Fields(message, "plan"))


_TYPE_NAMES = {int: "an integer", str: "a string", bool: "a boolean", list: "a list", dict: "an object"}


class _Fields:
    """Reads the fields of one JSON object, naming the path of a wrong one."""

    def __init__(self, value: Any, path: str):
        if not isinstance(value, dict):
            raise ValueError(f"{path}: expected an object")
        self.value = value
        self.path = path

    def get(self, name: str, expected: type) -> Any:
        path = f"{self.path}.{name}"
        if name not in self.value:
            raise ValueError(f"{path}: missing")
        item = self.value[name]
        # JSON true is a Python int too; a boolean is never a number here.
        if not isinstance(item, expected) or (expected is int and isinstance(item, bool)):
            raise ValueError(f"{path}: expected {_TYPE_NAMES[expected]}, got {type(item).__name__}")
        return item

    def non_negative(self, name: str) -> int:
        number = self.get(name, int)
        if number < 0:
            raise ValueError(f"{self.path}.{name}: expected a number >= 0, got {number}")
        return number

    def child(self, name: str) -> "_Fields":
        return _Fields(self.get(name, dict), f"{self.path}.{name}")

    def items(self, name: str) -> list[tuple[Any, str]]:
        return [(item, f"{self.path}.{name}[{i}]") for i, item in enumerate(self.get(name, list))]


def _parse_plan(fields: _Fields) -> Plan:
    endpoints = fields.child("endpoints")
    lock = fields.child("lock")
    lookup = fields.child("lookup")
    gated = []
    for item, path in fields.items("gated_failpoints"):
        if not isinstance(item, str):
            raise ValueError(f"{path}: expected a string")
        gated.append(item)
    clients = []
    for item, path in fields.items("clients"):
        client = _Fields(item, path)
        ops = []
        for op_item, op_path in client.items("ops"):
            op = _Fields(op_item, op_path)
            ops.append(Operation(op.get("op", int), op.get("kind", str), op.get("user", str)))
        clients.append(ClientPlan(client.non_negative("start_delay_ms"), ops))
    return Plan(
        worker=fields.get("worker", int),
        phase=fields.get("phase", str),
        seed=fields.non_negative("seed"),
        migrator=fields.get("migrator", str),
        trial_start_ns=fields.get("trial_start_ns", int),
        endpoints=Endpoints(
            postgres_url=endpoints.get("postgres_url", str),
            redis_url=endpoints.get("redis_url", str),
            stripe_url=endpoints.get("stripe_url", str),
            stripe_secret_key=endpoints.get("stripe_secret_key", str),
            litellm_url=endpoints.get("litellm_url", str),
            litellm_master_key=endpoints.get("litellm_master_key", str),
            http_request_timeout_ms=endpoints.non_negative("http_request_timeout_ms"),
        ),
        lock=LockOptions(
            ttl_ms=lock.non_negative("ttl_ms"),
            max_wait_ms=lock.non_negative("max_wait_ms"),
            retry_min_ms=lock.non_negative("retry_min_ms"),
            retry_max_ms=lock.non_negative("retry_max_ms"),
            command_timeout_ms=lock.non_negative("command_timeout_ms"),
            key_prefix=lock.get("key_prefix", str),
            fence_prefix=lock.get("fence_prefix", str),
        ),
        lookup=LookupOptions(strategy=lookup.get("strategy", str),
                             fast_path=lookup.get("fast_path", bool)),
        failpoints=fields.get("failpoints", str),
        gated_failpoints=gated,
        clients=clients,
    )
