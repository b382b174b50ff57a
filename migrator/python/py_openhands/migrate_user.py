"""UserStore.migrate_user of OpenHands: one session from start to commit.

The personal org is added to the session first; the LiteLLM entries and the
Stripe customer are migrated by HTTP while the transaction is open (the first
query after the org was added flushes it); then the user, its owner
membership, the conversations, `stripe_customers.org_id` and
`already_migrated` are written, and all of it commits at once. That last part
is right (no org without its membership). What is not:
- the HTTP calls are not repeated safely on a retry (litellm_entries.py);
- migrate_customer only modifies the customer's metadata; the customer's
  subscriptions keep pointing at the user (subscriptions_left_on_user);
- a user with no Stripe customer gets none.
"""

from __future__ import annotations

from orgquake import failpoint
from orgquake.errors import MigrationError
from py_reference.migrate_user import copy_conversations
from py_reference.models import (
    AppUser,
    Org,
    OrgMember,
    Role,
    StripeCustomer,
    UserSettings,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from .litellm_entries import migrate_entries


def migrate_user(state, session: Session, user_settings: UserSettings) -> None:
    """Migrates the legacy user of `user_settings` and commits `session`."""
    user_id = user_settings.user_id
    org_id = user_id  # personal org: the org's id is the user's
    org = Org(id=org_id, name=user_settings.username, kind="personal", owner_user_id=user_id,
              contact_email=user_settings.email)
    session.add(org)

    outcome = migrate_entries(state.litellm, org_id, user_id, user_settings.username,
                              user_settings.llm_api_key)

    _migrate_customer(state, session, user_id, org)

    role = session.execute(select(Role).where(Role.name == "owner")).scalar_one_or_none()
    if role is None:
        raise MigrationError("Owner role not found in database")
    session.add(AppUser(id=org_id, legacy_user_id=user_id, current_org_id=org_id,
                        email=user_settings.email))
    session.flush()
    session.add(OrgMember(org_id=org_id, user_id=org_id, role_id=role.id,
                          llm_api_key=outcome.api_key))
    # Mark the old user_settings as migrated instead of deleting.
    user_settings.already_migrated = True
    session.flush()
    copy_conversations(session, user_id, org_id)
    failpoint("migrate.before_commit")
    session.commit()
    failpoint("migrate.after_commit")


def _migrate_customer(state, session: Session, user_id: str, org: Org) -> None:
    # The query's autoflush writes the org row: the transaction stays open
    # across the Stripe call below.
    stripe_customer = session.execute(
        select(StripeCustomer).where(StripeCustomer.user_id == user_id)
    ).scalars().first()
    failpoint("migrate.after_org_insert")
    if stripe_customer is None:
        return
    stripe_customer.org_id = org.id
    fields = {"metadata": {"user_id": "", "org_id": str(org.id)}}
    if org.contact_email:
        fields["email"] = org.contact_email
    state.stripe.update_customer(stripe_customer.stripe_customer_id, None, **fields)
    failpoint("migrate.after_stripe_customer_update")
