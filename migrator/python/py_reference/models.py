"""The SQLAlchemy 1.4 ORM model of the legacy tables, the org model and the
migration's bookkeeping (migrator/schema/*.sql; the schema is the harness's,
this module never creates tables)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Text,
    and_,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import declarative_base, foreign, relationship

Base = declarative_base()

# Ids stay text on the Python side: a personal org's uuid equals its owner's
# legacy user id, which is text in the legacy tables.
Uuid = UUID(as_uuid=False)


# ---- the legacy, flat model ---------------------------------------------------------


class UserSettings(Base):
    __tablename__ = "user_settings"

    user_id = Column(Text, primary_key=True)
    username = Column(Text, nullable=False)
    email = Column(Text)
    llm_api_key = Column(Text)
    llm_model = Column(Text)
    user_version = Column(Integer, nullable=False)
    already_migrated = Column(Boolean, nullable=False)
    settings = Column(JSONB, nullable=False)


class StripeCustomer(Base):
    __tablename__ = "stripe_customers"

    id = Column(BigInteger, primary_key=True)
    user_id = Column(Text, ForeignKey("user_settings.user_id"), nullable=False)
    org_id = Column(Uuid)
    stripe_customer_id = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True))


class ConversationMetadata(Base):
    __tablename__ = "conversation_metadata"

    conversation_id = Column(Text, primary_key=True)
    user_id = Column(Text, ForeignKey("user_settings.user_id"), nullable=False)
    title = Column(Text, nullable=False)
    created_at = Column(DateTime(timezone=True), nullable=False)


# ---- the multi-tenant model ---------------------------------------------------------


class Role(Base):
    __tablename__ = "role"

    id = Column(Integer, primary_key=True)
    name = Column(Text, nullable=False, unique=True)
    rank = Column(Integer, nullable=False)


class Org(Base):
    __tablename__ = "org"

    id = Column(Uuid, primary_key=True)
    name = Column(Text, nullable=False, unique=True)
    kind = Column(Text, nullable=False)  # 'personal' or 'team'
    owner_user_id = Column(Text, nullable=False)
    contact_email = Column(Text)
    # created_at has a server default; the ORM never reads it back.


class AppUser(Base):
    __tablename__ = "app_user"

    id = Column(Uuid, primary_key=True)
    legacy_user_id = Column(Text, ForeignKey("user_settings.user_id"), nullable=False, unique=True)
    current_org_id = Column(Uuid, ForeignKey("org.id"))
    email = Column(Text)

    # The personal org is found by its owner, as the C++ loaders do: at most
    # one per owner (the partial unique index org_one_personal_per_owner).
    personal_org = relationship(
        Org,
        primaryjoin=lambda: and_(
            foreign(Org.owner_user_id) == AppUser.legacy_user_id, Org.kind == "personal"
        ),
        uselist=False,
        viewonly=True,
        lazy="select",
    )
    memberships = relationship("OrgMember", back_populates="user", lazy="select", viewonly=True)


class OrgMember(Base):
    __tablename__ = "org_member"

    org_id = Column(Uuid, ForeignKey("org.id"), primary_key=True)
    user_id = Column(Uuid, ForeignKey("app_user.id"), primary_key=True)
    role_id = Column(Integer, ForeignKey("role.id"), nullable=False)
    llm_api_key = Column(Text)

    user = relationship(AppUser, back_populates="memberships", lazy="select", viewonly=True)
    org = relationship(Org, lazy="select", viewonly=True)
    role = relationship(Role, lazy="select", viewonly=True)


class ConversationMetadataOrg(Base):
    __tablename__ = "conversation_metadata_org"

    conversation_id = Column(
        Text, ForeignKey("conversation_metadata.conversation_id"), primary_key=True
    )
    user_id = Column(Uuid, ForeignKey("app_user.id"), nullable=False)
    org_id = Column(Uuid, ForeignKey("org.id"), nullable=False)


# ---- what the migration records for itself ------------------------------------------


class MigrationJournal(Base):
    """The retry record, committed before the first external call."""

    __tablename__ = "migration_journal"

    user_id = Column(Text, ForeignKey("user_settings.user_id"), primary_key=True)
    org_id = Column(Uuid, nullable=False)
    credits_snapshot = Column(Float)  # None: unlimited
    legacy_max_budget = Column(Float)
    legacy_spend = Column(Float, nullable=False)
    has_litellm_user = Column(Boolean, nullable=False)
    replacement_key = Column(Text)
    created_customer = Column(Text)
    started_at = Column(DateTime(timezone=True))
    attempts = Column(Integer, nullable=False)


class MigrationFence(Base):
    """The highest lock fencing token that committed a migration of the user."""

    __tablename__ = "migration_fence"

    user_id = Column(Text, primary_key=True)
    token = Column(BigInteger, nullable=False)
