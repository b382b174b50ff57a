"""The base classes a migrator derives from: Migrator (threads) and AsyncMigrator (asyncio)."""

from __future__ import annotations

from . import failpoints as _failpoints


class Migrator:
    """A migrator whose clients each run in a thread.

    Subclasses set `name`, `failpoints` ({name: description}, in declaration
    order) and `operations`, and define connect() and one method per kind.
    """

    name: str | None = None
    language = "python"
    failpoints: dict[str, str] = {}
    operations: tuple[str, ...] = ("lookup", "migrate")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # Declared on import, so that a misspelt failpoint fails even in a unit test.
        for name, description in dict(cls.failpoints).items():
            _failpoints.declare_for_class(name, description)

    def connect(self, plan, client: int):
        """Connects one client (in its own thread); returns its state object."""
        return None

    def classify(self, exc: BaseException):
        """(error name, definite) for `exc`, or None for orgquake.errors.classify."""
        return None

    def reset(self, state) -> None:
        """Called after an operation failed in a way that may have broken `state`."""


class AsyncMigrator(Migrator):
    """A migrator whose clients each run as an asyncio task; its methods are async."""

    async def connect(self, plan, client: int):
        return None

    async def reset(self, state) -> None:
        """Called after an operation failed in a way that may have broken `state`."""
