"""The verified lookup every request makes: load a migrated user with its
personal org and memberships (migrator/loading.cpp), and verify it
(migrator/verification.cpp).

The three strategies return equal objects:
- joined: one query, LEFT OUTER JOINs (joinedload), the fast path's one round trip;
- selectin: one query per relationship with IN lists (selectinload);
- n_plus_one: lazy loading, one query per related row, the baseline.

The statements are built once, at import: SQLAlchemy memoizes a statement's
cache key on the object and caches its compiled form per engine, so a lookup
compiles nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from orgquake.errors import VerificationError
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload, lazyload, raiseload, selectinload

from .models import AppUser, OrgMember


@dataclass(frozen=True)
class OrgView:
    id: str
    name: str
    kind: str
    owner_user_id: str
    contact_email: Optional[str]


@dataclass(frozen=True)
class RoleView:
    id: int
    name: str
    rank: int


@dataclass(frozen=True)
class MembershipView:
    org: OrgView
    role: RoleView
    llm_api_key: Optional[str]


@dataclass(frozen=True)
class LoadedUser:
    id: str  # app_user.id, equal to the personal org's id
    legacy_user_id: str
    current_org_id: Optional[str]
    email: Optional[str]
    personal_org: Optional[OrgView]
    memberships: tuple  # of MembershipView, ordered by org id


_by_legacy_id = AppUser.legacy_user_id == bindparam("legacy_user_id")

_STATEMENTS = {
    "joined": select(AppUser)
    .options(
        joinedload(AppUser.personal_org),
        joinedload(AppUser.memberships).joinedload(OrgMember.org),
        joinedload(AppUser.memberships).joinedload(OrgMember.role),
        raiseload("*"),
    )
    .where(_by_legacy_id),
    "selectin": select(AppUser)
    .options(
        selectinload(AppUser.personal_org),
        selectinload(AppUser.memberships).selectinload(OrgMember.org),
        selectinload(AppUser.memberships).selectinload(OrgMember.role),
        raiseload("*"),
    )
    .where(_by_legacy_id),
    "n_plus_one": select(AppUser).options(lazyload("*")).where(_by_legacy_id),
}

STRATEGIES = tuple(_STATEMENTS)


def check_strategy(strategy: str) -> str:
    if strategy not in _STATEMENTS:
        raise ValueError(
            f"unknown loading strategy '{strategy}'; use joined, selectin or n_plus_one"
        )
    return strategy


def _org(org) -> OrgView:
    return OrgView(org.id, org.name, org.kind, org.owner_user_id, org.contact_email)


def load_user(session: Session, legacy_user_id: str, strategy: str) -> Optional[LoadedUser]:
    """The migrated user of `legacy_user_id`, or None if it has no app_user."""
    result = session.execute(_STATEMENTS[strategy], {"legacy_user_id": legacy_user_id})
    if strategy == "joined":
        result = result.unique()  # a joined collection repeats the user on every row
    user = result.scalar_one_or_none()
    if user is None:
        return None
    personal = user.personal_org  # for n_plus_one, a lazy load here
    memberships = []
    for member in user.memberships:
        org, role = member.org, member.role
        if org is None or role is None:
            continue  # deleted meanwhile
        memberships.append(
            MembershipView(_org(org), RoleView(role.id, role.name, role.rank), member.llm_api_key)
        )
    memberships.sort(key=lambda m: m.org.id)
    return LoadedUser(
        id=user.id,
        legacy_user_id=user.legacy_user_id,
        current_org_id=user.current_org_id,
        email=user.email,
        personal_org=_org(personal) if personal is not None else None,
        memberships=tuple(memberships),
    )


def verify(user: LoadedUser) -> None:
    """The personal org exists, is current, and the user is its member as owner."""
    org = user.personal_org
    if org is None:
        raise VerificationError(_problem(user, "no_personal_org", "it has no personal org"))
    if user.current_org_id != org.id:
        raise VerificationError(_problem(
            user, "wrong_current_org",
            f"current org {user.current_org_id or '(none)'} is not the personal org {org.id}"))
    for member in user.memberships:
        if member.org.id != org.id:
            continue
        if member.role.name != "owner":
            raise VerificationError(_problem(
                user, "not_owner", f"its role in its personal org is {member.role.name}"))
        return
    raise VerificationError(_problem(
        user, "not_a_member", f"it is not a member of its personal org {org.id}"))


def _problem(user: LoadedUser, problem: str, detail: str) -> str:
    return f"user {user.legacy_user_id} failed verification ({problem}): {detail}"
