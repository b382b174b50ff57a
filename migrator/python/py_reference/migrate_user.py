"""migrate_user: one legacy user to its personal org, as the C++ reference
migrator (migrator/reference_migrator.cpp) does it.

Correct under concurrent duplicate lookups, a crash between any two steps, a
lock holder paused past its lease, and failing HTTP APIs: every external step
is safe to repeat; what a retry needs is journaled before the first external
call; the database part is one transaction fenced by the lock's token.

Outside that transaction every statement commits on its own (an AUTOCOMMIT
session), as the C++ migrator's statements do: no transaction stays open
across an HTTP call.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional

from orgquake import failpoint
from orgquake.errors import FencedOut, MigrationError, OrgquakeError, UnknownUser
from sqlalchemy import insert, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from .litellm_client import LiteLlmError
from .transaction import transaction
from .models import (
    AppUser,
    ConversationMetadata,
    ConversationMetadataOrg,
    MigrationFence,
    MigrationJournal,
    Org,
    OrgMember,
    Role,
    StripeCustomer,
    UserSettings,
)

_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\Z")

_journal = MigrationJournal.__table__
_fence = MigrationFence.__table__
_JOURNAL_COLUMNS = (
    _journal.c.credits_snapshot,
    _journal.c.has_litellm_user,
    _journal.c.replacement_key,
    _journal.c.created_customer,
)


@dataclass(frozen=True)
class Journal:
    """What a retry needs, recorded before the first external call."""

    credits: Optional[float]  # remaining legacy credits; None: unlimited
    has_litellm_user: bool
    replacement_key: str
    created_customer: Optional[str]


@dataclass(frozen=True)
class LegacyRow:
    username: str
    email: Optional[str]
    llm_api_key: Optional[str]
    already_migrated: bool


class _Step:
    """Runs one named step; any failure becomes a MigrationError naming it."""

    __slots__ = ("name", "user_id")

    def __init__(self, name: str, user_id: str):
        self.name = name
        self.user_id = user_id

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None or not isinstance(error, Exception):
            return False
        if isinstance(error, (MigrationError, FencedOut, UnknownUser)):
            return False
        raise MigrationError(
            f"migrating user {self.user_id} failed at {self.name}: {_text(error)}"
        ) from error


def _text(error: BaseException) -> str:
    text = str(error)
    if isinstance(error, OrgquakeError) and text:
        return text
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def step(name: str, user_id: str) -> _Step:
    return _Step(name, user_id)


def migrate_user(state, user_id: str, fencing_token: int) -> bool:
    """Migrates one legacy user (detect, transform, persist); True if this call committed it.

    `fencing_token` is the caller's lock lease's token (0: the caller holds no lock).
    """
    with step("detect", user_id):
        legacy = _read_legacy(state, user_id)
    if legacy.already_migrated:
        return False  # a second migration changes nothing
    if not _UUID.match(user_id):
        raise MigrationError(
            f"migrating user {user_id} failed at detect: the id is not a UUID, "
            "and a personal org's id must equal it"
        )
    org_id = user_id  # the personal org convention: the org's id is the user's
    with step("journal", user_id):
        journal = _open_journal(state, user_id, org_id)

    litellm = state.litellm
    with step("litellm.team", user_id):
        _ensure_team(litellm, org_id, legacy.username, journal)
    failpoint("migrate.after_litellm_team_new")
    if journal.has_litellm_user:
        with step("litellm.user_update", user_id):
            # Lift the user's own budget: the org team's budget governs from now on.
            litellm.post("/user/update", {"user_id": user_id, "max_budget": None}, True)
        failpoint("migrate.after_litellm_user_update")
        with step("litellm.member_add", user_id):
            _add_member(litellm, org_id, user_id)
        failpoint("migrate.after_litellm_member_add")
        with step("litellm.key_move", user_id):
            _move_keys(litellm, org_id, user_id)
        failpoint("migrate.after_litellm_key_move")
    with step("litellm.key_check", user_id):
        working_key = _ensure_working_key(litellm, org_id, user_id, legacy, journal)
    failpoint("migrate.after_litellm_key_generate")

    with step("stripe.read", user_id):
        with state.autocommit() as session:
            customers = session.execute(
                select(StripeCustomer.stripe_customer_id)
                .where(StripeCustomer.user_id == user_id)
                .order_by(StripeCustomer.id)
            ).scalars().all()
    had_customer = bool(customers)
    if had_customer:
        customer = customers[0]  # the original customer is kept
        with step("stripe.customer_update", user_id):
            _point_customer_at_org(state.stripe, org_id, customer, legacy)
        failpoint("migrate.after_stripe_customer_update")
        with step("stripe.subscription_update", user_id):
            _point_subscriptions_at_org(state.stripe, org_id, customer)
        failpoint("migrate.after_stripe_subscription_update")
    else:
        with step("stripe.customer_create", user_id):
            customer = _create_customer(state, user_id, org_id, legacy, journal)
        failpoint("migrate.after_stripe_customer_create")

    with step("commit", user_id):
        committed = _persist(state, user_id, org_id, legacy, working_key, customer,
                             had_customer, fencing_token)
    failpoint("migrate.after_commit")
    return committed


def _read_legacy(state, user_id: str) -> LegacyRow:
    with state.autocommit() as session:
        row = session.execute(
            select(UserSettings.username, UserSettings.email, UserSettings.llm_api_key,
                   UserSettings.already_migrated).where(UserSettings.user_id == user_id)
        ).one_or_none()
    if row is None:
        raise UnknownUser(f"migrating user {user_id} failed at detect: no legacy user has this id")
    return LegacyRow(row.username, row.email, row.llm_api_key, row.already_migrated)


def _journal_from(row) -> Journal:
    return Journal(
        credits=None if row.credits_snapshot is None else float(row.credits_snapshot),
        has_litellm_user=bool(row.has_litellm_user),
        replacement_key=row.replacement_key,
        created_customer=row.created_customer,
    )


def _open_journal(state, user_id: str, org_id: str) -> Journal:
    with state.autocommit() as session:
        existing = session.execute(
            update(_journal)
            .where(_journal.c.user_id == user_id)
            .values(attempts=_journal.c.attempts + 1)
            .returning(*_JOURNAL_COLUMNS)
        ).one_or_none()
    # A retry: the snapshot of the first attempt holds, whatever LiteLLM says now.
    if existing is not None:
        return _journal_from(existing)

    has_litellm_user = True
    max_budget: Optional[float] = None
    spend = 0.0
    try:
        info = state.litellm.get("/user/info", {"user_id": user_id})
        user = info["user_info"]
        if user["max_budget"] is not None:
            max_budget = float(user["max_budget"])
        spend = float(user.get("spend", 0.0))
    except LiteLlmError as error:
        if error.status != 404:
            raise
        has_litellm_user = False  # never used the proxy: nothing to carry over
        max_budget = 0.0
    failpoint("migrate.after_litellm_user_info")
    credits = None if max_budget is None else max(0.0, max_budget - spend)
    # Chosen now, so that every attempt asks LiteLLM for the same key.
    replacement_key = "sk-%016x%016x" % (state.rng.getrandbits(64), state.rng.getrandbits(64))
    with state.autocommit() as session:
        # The first journal written wins, should a holder whose lease expired race here.
        inserted = session.execute(
            pg_insert(_journal)
            .values(user_id=user_id, org_id=org_id, credits_snapshot=credits,
                    legacy_max_budget=max_budget, legacy_spend=spend,
                    has_litellm_user=has_litellm_user, replacement_key=replacement_key)
            .on_conflict_do_nothing(index_elements=[_journal.c.user_id])
            .returning(*_JOURNAL_COLUMNS)
        ).one_or_none()
        if inserted is None:
            inserted = session.execute(
                select(*_JOURNAL_COLUMNS).where(_journal.c.user_id == user_id)
            ).one()
    failpoint("migrate.after_journal")
    return _journal_from(inserted)


def _ensure_team(litellm, org_id: str, alias: str, journal: Journal) -> None:
    try:
        litellm.post("/team/new",
                     {"team_id": org_id, "team_alias": alias, "max_budget": journal.credits}, True)
    except LiteLlmError as error:
        if error.status != 400 or not error.says("already exists"):
            raise
        # Made by an earlier attempt: set the budget to the journaled snapshot again.
        litellm.post("/team/update", {"team_id": org_id, "max_budget": journal.credits}, True)


def _add_member(litellm, org_id: str, user_id: str) -> None:
    try:
        litellm.post("/team/member_add",
                     {"team_id": org_id, "member": {"user_id": user_id, "role": "admin"}}, True)
    except LiteLlmError as error:
        if error.status != 400 or not error.says("already in team"):
            raise


def _move_keys(litellm, org_id: str, user_id: str) -> None:
    page = 1
    while True:
        listing = litellm.get("/key/list", {"user_id": user_id, "return_full_object": "true",
                                            "size": 100, "page": page})
        for key in listing["keys"]:
            if isinstance(key.get("team_id"), str) and key["team_id"] == org_id:
                continue
            litellm.post("/key/update", {"key": key["token"], "team_id": org_id}, True)
        if page >= listing.get("total_pages", 1):
            break
        page += 1


def _ensure_working_key(litellm, org_id: str, user_id: str, legacy: LegacyRow,
                        journal: Journal) -> str:
    if legacy.llm_api_key and litellm.key_works(legacy.llm_api_key):
        return legacy.llm_api_key
    try:
        litellm.post("/key/generate",
                     {"key": journal.replacement_key, "user_id": user_id, "team_id": org_id,
                      "key_alias": f"orgquake-migrated-{org_id}"}, True)
    except LiteLlmError as error:
        # Our own key from an earlier attempt: the journal chose its value.
        if error.status != 400 or not error.says("already exists"):
            raise
    return journal.replacement_key


def _point_customer_at_org(stripe_billing, org_id: str, customer: str, legacy: LegacyRow) -> None:
    fields = {"metadata": {"org_id": org_id, "user_id": ""}}
    if legacy.email is not None:
        fields["email"] = legacy.email
    stripe_billing.update_customer(customer, f"orgquake-migrate-{org_id}-customer", **fields)


def _point_subscriptions_at_org(stripe_billing, org_id: str, customer: str) -> None:
    subscriptions = stripe_billing.list_subscriptions(customer)
    for subscription in subscriptions["data"]:
        sub_id = subscription["id"]
        stripe_billing.update_subscription(
            sub_id, f"orgquake-migrate-{org_id}-{sub_id}",
            metadata={"org_id": org_id, "user_id": ""})


def _create_customer(state, user_id: str, org_id: str, legacy: LegacyRow,
                     journal: Journal) -> str:
    if journal.created_customer is not None:
        return journal.created_customer
    # Never search-before-create: Stripe's search lags writes. The
    # Idempotency-Key makes a repeat return the customer the first made.
    fields = {"name": legacy.username, "metadata": {"org_id": org_id}}
    if legacy.email is not None:
        fields["email"] = legacy.email
    created = state.stripe.create_customer(f"orgquake-migrate-{org_id}-create-customer", **fields)
    customer = created["id"]
    with state.autocommit() as session:
        session.execute(
            update(_journal).where(_journal.c.user_id == user_id).values(created_customer=customer)
        )
    return customer


def _persist(state, user_id: str, org_id: str, legacy: LegacyRow, working_key: str,
             customer: str, had_customer: bool, fencing_token: int) -> bool:
    with transaction(state) as session:
        if fencing_token > 0:
            # Row-locks the fence: concurrent committers of one user serialize here.
            stmt = pg_insert(_fence).values(user_id=user_id, token=fencing_token)
            fence = session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[_fence.c.user_id],
                    set_={"token": stmt.excluded.token},
                    where=_fence.c.token <= stmt.excluded.token,
                ).returning(_fence.c.token)
            ).one_or_none()
            if fence is None:
                newer = session.execute(
                    select(_fence.c.token).where(_fence.c.user_id == user_id)
                ).scalar_one_or_none()
                raise FencedOut(
                    f"migrating user {user_id} failed at commit: fencing token {fencing_token} "
                    f"is older than {newer or 0} already committed: this holder's lock lease "
                    "expired"
                )
        settings = session.execute(
            select(UserSettings).where(UserSettings.user_id == user_id).with_for_update()
        ).scalar_one()
        if settings.already_migrated:
            return False  # another holder finished meanwhile (the fence row commits)
        _insert_personal_org_rows(session, user_id, legacy.username, legacy.email, working_key)
        if had_customer:
            session.execute(
                update(StripeCustomer.__table__)
                .where(StripeCustomer.__table__.c.user_id == user_id)
                .values(org_id=org_id)
            )
        else:
            session.execute(
                insert(StripeCustomer.__table__).values(
                    user_id=user_id, org_id=org_id, stripe_customer_id=customer)
            )
        settings.already_migrated = True
        session.flush()
        failpoint("migrate.before_commit")
    # Leaving transaction() committed: the point of no return.
    return True


def _insert_personal_org_rows(session, user_id: str, username: str, email: Optional[str],
                              llm_api_key: str) -> None:
    """migrator/personal_org_rows.cpp: the org, the user, its owner membership, its conversations."""
    org_id = user_id  # personal org convention: the org's id is the user's
    session.add(Org(id=org_id, name=username, kind="personal", owner_user_id=user_id,
                    contact_email=email))
    session.flush()
    failpoint("migrate.after_org_insert")
    session.add(AppUser(id=org_id, legacy_user_id=user_id, current_org_id=org_id, email=email))
    session.flush()
    session.execute(
        insert(OrgMember.__table__).from_select(
            ["org_id", "user_id", "role_id", "llm_api_key"],
            select(literal(org_id, OrgMember.org_id.type), literal(org_id, OrgMember.user_id.type),
                   Role.id, literal(llm_api_key, OrgMember.llm_api_key.type))
            .where(Role.name == "owner"),
        )
    )
    copy_conversations(session, user_id, org_id)


def copy_conversations(session, user_id: str, org_id: str) -> None:
    """The user's conversations into conversation_metadata_org, in one INSERT ... SELECT."""
    session.execute(
        insert(ConversationMetadataOrg.__table__).from_select(
            ["conversation_id", "user_id", "org_id"],
            select(ConversationMetadata.conversation_id,
                   literal(org_id, ConversationMetadataOrg.user_id.type),
                   literal(org_id, ConversationMetadataOrg.org_id.type))
            .where(ConversationMetadata.user_id == user_id),
        )
    )
