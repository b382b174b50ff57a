"""compensate_user: the reference migrator's compensation, as
migrator/compensation.cpp does it, step by step.

After the database was restored from a backup taken before the user's
migration (the migration guide's rollback of a backfill), LiteLLM and Stripe
still hold the migration's external half. Nothing in the restored database
remembers it (the journal went with the restore), so each step finds what to
undo by the personal org's id, which equals the user's id, and each is safe
to repeat:

  Stripe: the user's own customers (their billing rows survived the restore)
  name the user again, not the org; their subscriptions too; a customer the
  migration created for the org is deleted.
  LiteLLM: the user's keys leave the org's team (the key the migration
  generated is deleted), the user's own budget is set so that they can spend
  exactly what the team had left, and the team goes.
"""

from __future__ import annotations

from typing import Any, Optional

import stripe
from orgquake.errors import UnknownUser
from sqlalchemy import select

from .litellm_client import LiteLlmError
from .migrate_user import step
from .models import StripeCustomer, UserSettings


def _number_or_null(obj: dict, key: str) -> Optional[float]:
    """A JSON number, or None for null or absent."""
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _absent(error: LiteLlmError) -> bool:
    """Whether a LiteLLM error says the thing is not there."""
    return error.status == 404


def _metadata(obj: Any) -> dict:
    metadata = obj.get("metadata") if obj is not None else None
    return metadata if metadata is not None else {}


def _undo_stripe(state, user_id: str, org_id: str) -> bool:
    billing = state.stripe
    undone = False
    with state.autocommit() as session:
        own = session.execute(
            select(StripeCustomer.stripe_customer_id, UserSettings.email)
            .join(UserSettings, UserSettings.user_id == StripeCustomer.user_id)
            .where(StripeCustomer.user_id == user_id)
            .order_by(StripeCustomer.id)
        ).all()
    for row in own:
        customer = row.stripe_customer_id
        found = billing.retrieve_customer(customer)
        if _metadata(found).get("org_id", "") == org_id:
            billing.update_customer(customer, f"orgquake-compensate-{org_id}-customer",
                                    metadata={"org_id": "", "user_id": user_id})
            undone = True
        subscriptions = billing.list_subscriptions(customer)  # outlives the loop
        for subscription in subscriptions["data"]:
            if _metadata(subscription).get("org_id", "") != org_id:
                continue
            sub_id = subscription["id"]
            billing.update_subscription(sub_id, f"orgquake-compensate-{org_id}-{sub_id}",
                                        metadata={"org_id": "", "user_id": user_id})
            undone = True
    if own:
        return undone
    # A user without a customer got one for the org: the listing by email
    # finds it (listing, unlike search, does not lag writes).
    with state.autocommit() as session:
        legacy = session.execute(
            select(UserSettings.email).where(UserSettings.user_id == user_id)
        ).one_or_none()
    if legacy is None or legacy.email is None:
        return undone
    listed = billing.list_customers_by_email(legacy.email)
    for customer in listed["data"]:
        if _metadata(customer).get("org_id", "") != org_id:
            continue
        try:
            billing.delete_customer(customer["id"])
        except stripe.error.StripeError as error:
            if (error.http_status or 0) != 404:
                raise  # 404: deleted by an earlier attempt
        undone = True
    return undone


def _undo_litellm(state, user_id: str, org_id: str) -> bool:
    litellm = state.litellm
    try:
        team = litellm.get("/team/info", {"team_id": org_id})["team_info"]
    except LiteLlmError as error:
        if not _absent(error):
            raise
        return False  # never made, or compensated already
    user = None
    try:
        user = litellm.get("/user/info", {"user_id": user_id})
    except LiteLlmError as error:
        if not _absent(error):
            raise
    if isinstance(user, dict):
        # What the team had left is what the user may spend on their own again.
        team_budget = _number_or_null(team, "max_budget")
        team_spend = _number_or_null(team, "spend") or 0.0
        user_spend = _number_or_null(user["user_info"], "spend") or 0.0
        budget = (None if team_budget is None
                  else user_spend + max(0.0, team_budget - team_spend))
        litellm.post("/user/update", {"user_id": user_id, "max_budget": budget}, True)
        for key in user.get("keys") or []:
            if not isinstance(key.get("team_id"), str) or key["team_id"] != org_id:
                continue
            if key.get("key_alias") == f"orgquake-migrated-{org_id}":
                litellm.post("/key/delete", {"keys": [key["token"]]}, True)
            else:
                litellm.post("/key/update", {"key": key["token"], "team_id": None}, True)
    # Deleting the team deletes the keys still in it: only ours are left.
    litellm.post("/team/delete", {"team_ids": [org_id]}, True)
    return True


def compensate_user(state, user_id: str) -> bool:
    """Undoes the migration's external half for a user the restored database calls
    unmigrated; True if anything was undone. Holds the user's lock throughout."""
    lock = state.lock()
    lease = lock.acquire(user_id)
    undone = False
    try:
        with state.autocommit() as session:
            migrated = session.execute(
                select(UserSettings.already_migrated).where(UserSettings.user_id == user_id)
            ).one_or_none()
        if migrated is None:
            raise UnknownUser(
                f"migrating user {user_id} failed at detect: no legacy user has this id")
        # A user the database says is migrated keeps its external half.
        if not migrated.already_migrated:
            org_id = user_id  # a personal org's id is its owner's
            # Named steps, as the migration's: a failure says which and a retry converges.
            with step("compensate.stripe", user_id):
                undone = _undo_stripe(state, user_id, org_id) or undone
            with step("compensate.litellm", user_id):
                undone = _undo_litellm(state, user_id, org_id) or undone
    except BaseException:
        lock.release(lease)
        raise
    lock.release(lease)
    return undone
