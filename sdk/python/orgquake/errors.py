"""The protocol's error names, as exceptions, and the mapping of any exception to one."""

from __future__ import annotations

# The protocol allows these names and no others in a fail or info event.
ERROR_NAMES = (
    "LockTimeout",
    "FencedOut",
    "UnknownUser",
    "VerificationError",
    "RedisUnavailable",
    "MigrationError",
    "InjectedError",
    "PgConnectionError",
    "PgError",
    "HttpError",
    "Error",
)

MAX_MESSAGE_CHARS = 500


class OrgquakeError(Exception):
    """Base of the SDK's errors; `error_name` is the protocol's name for it."""

    error_name = "Error"
    # True: the operation certainly changed nothing the invariants look at.
    definite = False


class LockTimeout(OrgquakeError):
    """The user's lock stayed held for max_wait_ms."""

    error_name = "LockTimeout"
    definite = True


class FencedOut(OrgquakeError):
    """The commit carried a fencing token older than one already committed."""

    error_name = "FencedOut"
    definite = True


class UnknownUser(OrgquakeError):
    """No legacy user has that id."""

    error_name = "UnknownUser"
    definite = True


class VerificationError(OrgquakeError):
    """The loaded user failed verification."""

    error_name = "VerificationError"


class RedisUnavailable(OrgquakeError):
    """Redis could not be reached or timed out."""

    error_name = "RedisUnavailable"


class MigrationError(OrgquakeError):
    """A migration step failed; a retry converges."""

    error_name = "MigrationError"


class InjectedError(OrgquakeError):
    """Raised by a failpoint's return action or the controller's error grant."""

    error_name = "InjectedError"

    def __init__(self, failpoint: str, text: str = ""):
        super().__init__(f"failpoint {failpoint}: {text or 'injected error'}")
        self.failpoint = failpoint
        self.text = text


class PgConnectionError(OrgquakeError):
    """The PostgreSQL connection broke."""

    error_name = "PgConnectionError"


class PgError(OrgquakeError):
    """PostgreSQL refused a statement."""

    error_name = "PgError"


class HttpError(OrgquakeError):
    """A Stripe or LiteLLM call failed below HTTP (refused, reset, timed out)."""

    error_name = "HttpError"


# Library exceptions recognised by (top-level package, class name), so that the
# SDK needs none of these libraries installed. Subclasses match through the MRO,
# and the first class of the MRO found here wins (OperationalError before DBAPIError).
_LIBRARY_ERRORS = {
    ("redis", "ConnectionError"): "RedisUnavailable",
    ("redis", "TimeoutError"): "RedisUnavailable",
    ("psycopg2", "OperationalError"): "PgConnectionError",
    ("psycopg2", "InterfaceError"): "PgConnectionError",
    ("psycopg2", "Error"): "PgError",
    ("psycopg", "OperationalError"): "PgConnectionError",
    ("psycopg", "InterfaceError"): "PgConnectionError",
    ("psycopg", "Error"): "PgError",
    ("sqlalchemy", "OperationalError"): "PgConnectionError",
    ("sqlalchemy", "DisconnectionError"): "PgConnectionError",
    ("sqlalchemy", "InterfaceError"): "PgConnectionError",
    ("sqlalchemy", "DBAPIError"): "PgError",
    ("httpx", "TransportError"): "HttpError",
    ("requests", "ConnectionError"): "HttpError",
    ("requests", "Timeout"): "HttpError",
    ("stripe", "APIConnectionError"): "HttpError",
    ("aiohttp", "ClientConnectionError"): "HttpError",
}


def one_line(text: str) -> str:
    """`text` on one line, cut to MAX_MESSAGE_CHARS."""
    line = " ".join(text.splitlines()).strip()
    if len(line) > MAX_MESSAGE_CHARS:
        line = line[: MAX_MESSAGE_CHARS - 3] + "..."
    return line


def message_of(exc: BaseException) -> str:
    """One line describing `exc`; foreign exceptions keep their class name."""
    text = str(exc)
    if not isinstance(exc, OrgquakeError):
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return one_line(text or type(exc).__name__)


def _library_error_name(exc: BaseException) -> str | None:
    for cls in type(exc).__mro__:
        package = cls.__module__.split(".", 1)[0]
        name = _LIBRARY_ERRORS.get((package, cls.__name__))
        if name is None:
            continue
        # SQLAlchemy marks an error that broke the pooled connection this way.
        if name == "PgError" and getattr(exc, "connection_invalidated", False):
            return "PgConnectionError"
        return name
    return None


def classify(exc: BaseException) -> tuple[str, bool, str]:
    """(error name, definite, one-line message) for any exception."""
    if isinstance(exc, OrgquakeError):
        return exc.error_name, exc.definite, message_of(exc)
    name = _library_error_name(exc) or "Error"
    return name, False, message_of(exc)
