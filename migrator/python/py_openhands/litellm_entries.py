"""LiteLlmManager.migrate_entries of OpenHands: the user's LiteLLM entries moved
to the org's team by HTTP, before the database transaction commits.

Its guard: a user whose LiteLLM max_budget is already None (unlimited) is
taken to be migrated, and nothing is done. The migration itself lifts that
budget (POST /user/update max_budget=None) as its second call, so a migration
that dies after it, and is tried again, skips the team membership and the
key moves for good (the catalog's skip_litellm_when_budget_lifted). Nothing
is journaled: a retry recomputes everything from what LiteLLM says now.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from orgquake import failpoint
from py_reference.litellm_client import LiteLlmClient, LiteLlmError


@dataclass(frozen=True)
class LiteLlmOutcome:
    migrated: bool  # False: skipped, the user looked migrated already (or unknown to LiteLLM)
    api_key: Optional[str]  # the key to store on the owner membership


def migrate_entries(litellm: LiteLlmClient, org_id: str, user_id: str, username: str,
                    db_key: Optional[str]) -> LiteLlmOutcome:
    try:
        info = litellm.get("/user/info", {"user_id": user_id})
    except LiteLlmError as error:
        if error.status != 404:
            raise
        return LiteLlmOutcome(False, db_key)  # `if not user_json: return None`
    user = info["user_info"]
    failpoint("migrate.after_litellm_user_info")
    original_max_budget = user.get("max_budget")
    spend = float(user.get("spend") or 0.0)
    if original_max_budget is None:
        # "if max_budget is None or UNLIMITED, then we've already migrated the User"
        return LiteLlmOutcome(False, db_key)
    credits = max(float(original_max_budget) - spend, 0.0)

    _create_team(litellm, org_id, username, credits)
    failpoint("migrate.after_litellm_team_new")
    litellm.post("/user/update", {"user_id": user_id, "max_budget": None}, True)
    failpoint("migrate.after_litellm_user_update")
    _add_user_to_team(litellm, org_id, user_id, credits)
    failpoint("migrate.after_litellm_member_add")
    _update_user_keys(litellm, org_id, user_id)
    failpoint("migrate.after_litellm_key_move")

    key = db_key
    if db_key and not litellm.key_works(db_key):
        # A new key with a value LiteLLM chooses: a retry generates another one.
        generated = litellm.post("/key/generate", {
            "user_id": user_id, "team_id": org_id,
            "key_alias": f"OpenHands Cloud - user {user_id} - org {org_id}"}, False)
        key = generated["key"]
    failpoint("migrate.after_litellm_key_generate")
    return LiteLlmOutcome(True, key)


def _create_team(litellm: LiteLlmClient, org_id: str, alias: str, credits: float) -> None:
    try:
        litellm.post("/team/new", {"team_id": org_id, "team_alias": alias,
                                   "max_budget": credits}, True)
    except LiteLlmError as error:
        if error.status != 400 or not error.says("already exists"):
            raise
        litellm.post("/team/update", {"team_id": org_id, "max_budget": credits}, True)


def _add_user_to_team(litellm: LiteLlmClient, org_id: str, user_id: str, credits: float) -> None:
    try:
        litellm.post("/team/member_add", {"team_id": org_id,
                                          "member": {"user_id": user_id, "role": "user"},
                                          "max_budget_in_team": credits}, True)
    except LiteLlmError as error:
        if error.status != 400 or not error.says("already in team"):
            raise


def _update_user_keys(litellm: LiteLlmClient, org_id: str, user_id: str) -> None:
    listing = litellm.get("/key/list", {"user_id": user_id, "return_full_object": "true",
                                        "size": 100})
    for key in listing["keys"]:
        litellm.post("/key/update", {"key": key["token"], "team_id": org_id}, True)
