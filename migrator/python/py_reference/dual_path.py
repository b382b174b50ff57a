"""The dual-path application code of the migration guide's rollout, as
migrator/dual_path.cpp does it for the C++ reference migrator: a request
(`serve`) reads the rollout flag and serves the user through the legacy model
or the organization model, then compares, Scientist-style, the other path's
answers where they can be read without changing anything
(docs/worker-protocol.md, "The `serve` operation and the rollout flag").

Every statement runs on the client's AUTOCOMMIT engine, each in a session of
its own that is closed before the verified lookup (which checks the client's
one pooled connection out itself) and before any HTTP call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional

from orgquake.errors import PgError, UnknownUser, VerificationError
from orgquake.rollout import ORG_PATH_FLAG, ROLLOUT_FLAG_SQL, RolloutFlag
from sqlalchemy import Text, and_, bindparam, cast, literal, select, text

from .models import AppUser, MigrationJournal, Org, OrgMember, StripeCustomer, UserSettings

# Built once, at import, as lookup.py's statements: compiled once per engine.
_FLAG = text(ROLLOUT_FLAG_SQL)

_LEGACY = select(
    UserSettings.username,
    UserSettings.email,
    UserSettings.llm_api_key,
    UserSettings.llm_model,
    UserSettings.user_version,
    cast(UserSettings.settings, Text).label("settings"),  # jsonb's text form
).where(UserSettings.user_id == bindparam("user_id"))

# Through the org model: the user's current org must be their personal org,
# with the user a member; the name is the org's, the email the app user's,
# the key the membership's.
_ORG = (
    select(
        Org.name.label("username"),
        AppUser.email,
        OrgMember.llm_api_key,
        UserSettings.llm_model,
        UserSettings.user_version,
        cast(UserSettings.settings, Text).label("settings"),
        Org.id.label("org_id"),
    )
    .select_from(AppUser)
    .join(Org, and_(Org.id == AppUser.current_org_id, Org.kind == "personal"))
    .join(OrgMember, and_(OrgMember.org_id == Org.id, OrgMember.user_id == AppUser.id))
    .join(UserSettings, UserSettings.user_id == AppUser.legacy_user_id)
    .where(AppUser.legacy_user_id == bindparam("user_id"))
)

_LEGACY_BILLING = (
    select(StripeCustomer.stripe_customer_id)
    .where(StripeCustomer.user_id == bindparam("user_id"))
    .order_by(StripeCustomer.id)
)
_ORG_BILLING = (
    select(StripeCustomer.stripe_customer_id)
    .where(StripeCustomer.org_id == bindparam("org_id"))
    .order_by(StripeCustomer.id)
)

# A migration of the user began (its journal row, written before the first
# external call) and has not committed.
_MIGRATION_BEGUN = (
    select(literal(1))
    .select_from(MigrationJournal)
    .join(UserSettings, UserSettings.user_id == MigrationJournal.user_id)
    .where(MigrationJournal.user_id == bindparam("user_id"), ~UserSettings.already_migrated)
)


@dataclass(frozen=True)
class UserAnswers:
    """What a request answers for a user, whichever path served it."""

    username: str
    email: Optional[str]
    llm_model: Optional[str]
    user_version: int
    settings_json: str  # the jsonb column's text form: equal values, equal text
    # Legacy: user_settings.llm_api_key. Org: the key of the membership in the personal org.
    api_key: Optional[str]
    # The Stripe customers billed for the user: the user's rows (legacy), the org's (org).
    billing: tuple = ()

    def to_json(self) -> dict:
        try:
            settings = json.loads(self.settings_json)
        except ValueError:
            settings = self.settings_json
        return {
            "username": self.username,
            "email": self.email,
            "llm_model": self.llm_model,
            "user_version": self.user_version,
            "settings": settings,
            "api_key": self.api_key,
            "billing": list(self.billing),
        }


@dataclass
class ServedRequest:
    """One request, served."""

    flag: RolloutFlag
    org_path: bool
    answers: Optional[UserAnswers] = None
    org_id: Optional[str] = None  # the personal org, on the org path
    # On the legacy path: a migration begun before (journal written, not
    # committed) was finished first, so that its external half (the LiteLLM
    # team, Stripe metadata naming the org) does not point at an org that
    # never comes.
    resumed: bool = False
    compared: bool = False  # whether the other path could be read without changing anything
    mismatches: list = field(default_factory=list)
    migrated_here: bool = False

    def to_json(self) -> dict:
        """The value of a serve's `ok` (docs/worker-protocol.md)."""
        value = {
            "path": "org" if self.org_path else "legacy",
            "flag_version": self.flag.version,
            "answers": self.answers.to_json(),
            "resumed": self.resumed,
            "compared": self.compared,
            "mismatches": list(self.mismatches),
            "verified": True,
        }
        if self.org_id is not None:
            value["org_id"] = self.org_id
        value["migrated_here"] = self.migrated_here
        return value


def read_rollout_flag(state) -> RolloutFlag:
    """The flag as a request reads it: one statement, every request."""
    with state.autocommit() as session:
        row = session.execute(_FLAG).first()
    if row is None:
        raise PgError(f"rollout_flag has no row named {ORG_PATH_FLAG}")
    return RolloutFlag.from_row(tuple(row))


def read_legacy_answers(session, user_id: str) -> Optional[UserAnswers]:
    """The legacy path's answers; None when no legacy user has the id."""
    row = session.execute(_LEGACY, {"user_id": user_id}).first()
    if row is None:
        return None
    billing = session.execute(_LEGACY_BILLING, {"user_id": user_id}).scalars().all()
    return UserAnswers(row.username, row.email, row.llm_model, row.user_version, row.settings,
                       row.llm_api_key, tuple(billing))


def read_org_answers(session, user_id: str) -> tuple[Optional[UserAnswers], Optional[str]]:
    """The org path's answers from the org model and the personal org's id; (None, None)
    when the user has no app_user, personal org and membership yet."""
    row = session.execute(_ORG, {"user_id": user_id}).first()
    if row is None:
        return None, None
    org_id = str(row.org_id)
    billing = session.execute(_ORG_BILLING, {"org_id": org_id}).scalars().all()
    return (UserAnswers(row.username, row.email, row.llm_model, row.user_version, row.settings,
                        row.llm_api_key, tuple(billing)), org_id)


def migration_begun(state, user_id: str) -> bool:
    with state.autocommit() as session:
        return session.execute(_MIGRATION_BEGUN, {"user_id": user_id}).first() is not None


def compare_paths(state, legacy: UserAnswers, org: UserAnswers) -> list:
    """The fields where `legacy` and `org` differ, except the key when the legacy key no
    longer works at LiteLLM (migration replaced it). Asks LiteLLM only when the keys differ."""
    mismatches = []
    if legacy.username != org.username:
        mismatches.append("username")
    if legacy.email != org.email:
        mismatches.append("email")
    if legacy.llm_model != org.llm_model:
        mismatches.append("llm_model")
    if legacy.user_version != org.user_version:
        mismatches.append("user_version")
    if legacy.settings_json != org.settings_json:
        mismatches.append("settings")
    if legacy.api_key != org.api_key:
        # Migration replaces a key that no longer works; any other difference
        # is a key the org path lost or invented.
        replaced = org.api_key is not None and (
            legacy.api_key is None or not state.litellm.key_works(legacy.api_key))
        if not replaced:
            mismatches.append("api_key")
    # A user without a customer gets one with the org; the legacy billing row
    # names it too (the user keeps their rows).
    if legacy.billing != org.billing:
        mismatches.append("billing")
    return mismatches


def serve_request(state, user_id: str, get_user_verified) -> ServedRequest:
    """A request of the application under rollout: the flag decides the path; the org path
    is the verified lookup (`get_user_verified(state, user_id)` -> (user, migrated_here),
    which migrates a user not migrated yet), the legacy path reads the legacy rows and
    migrates nothing, except to finish a migration begun before. Raises UnknownUser when no
    legacy user has the id."""
    flag = read_rollout_flag(state)
    served = ServedRequest(flag=flag, org_path=flag.covers(user_id))
    if served.org_path:
        _, served.migrated_here = get_user_verified(state, user_id)
        with state.autocommit() as session:
            answers, org_id = read_org_answers(session, user_id)
            other = read_legacy_answers(session, user_id)
        if answers is None:
            raise VerificationError(
                f"user {user_id} failed verification (not_a_member): the verified lookup "
                "returned, but the org path finds no personal org with the user as member")
        served.answers = answers
        served.org_id = org_id
    else:
        if migration_begun(state, user_id):
            _, served.migrated_here = get_user_verified(state, user_id)
            served.resumed = True
        with state.autocommit() as session:
            answers = read_legacy_answers(session, user_id)
            other = read_org_answers(session, user_id)[0] if answers is not None else None
        if answers is None:
            raise UnknownUser(f"serving user {user_id}: no legacy user has this id")
        served.answers = answers
    if other is not None:
        served.compared = True
        if served.org_path:
            served.mismatches = compare_paths(state, other, served.answers)
        else:
            served.mismatches = compare_paths(state, served.answers, other)
    return served
