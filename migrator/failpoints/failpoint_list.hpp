#pragma once

// Every failpoint of the migrator, declared once (as ClickHouse does): a name
// that is not in this list is an error wherever it appears, because a typo in
// a fault plan would otherwise silently turn a deterministic test into a race.
//
// Each entry is X(identifier, "area.step", "where the code is when it fires").
// The identifier is the name with its first '.' written as '_'; it is what a
// call site writes, ORGQUAKE_FAILPOINT(migrate_after_org_insert), so that a
// misspelt call site does not compile. catalog.hpp checks the pairing.
//
// Adding a failpoint: add a line here, then the call site.

// clang-format off
#define ORGQUAKE_FAILPOINT_LIST(X)                                                                 \
  X(lookup_after_lock_acquire, "lookup.after_lock_acquire",                                        \
    "the lookup holds the user's Redis lock and has loaded nothing yet")                           \
  X(lookup_after_load, "lookup.after_load",                                                        \
    "the lookup has loaded the user with its org and memberships, before verifying them")         \
  X(lookup_before_release, "lookup.before_release",                                                \
    "the lookup is done with the user and is about to release the user's Redis lock")              \
  X(lock_before_acquire, "lock.before_acquire",                                                    \
    "about to send SET NX PX for the user's lock")                                                 \
  X(lock_after_acquire, "lock.after_acquire",                                                      \
    "SET NX PX succeeded: this process holds the user's lock")                                     \
  X(lock_before_release, "lock.before_release",                                                    \
    "about to run the compare-and-delete script that releases the user's lock")                    \
  X(migrate_after_journal, "migrate.after_journal",                                                \
    "the retry record with the credits snapshot is committed; no external call made yet")          \
  X(migrate_after_litellm_user_info, "migrate.after_litellm_user_info",                            \
    "LiteLLM GET /user/info answered with the user's budget and spend")                            \
  X(migrate_after_litellm_team_new, "migrate.after_litellm_team_new",                              \
    "LiteLLM POST /team/new created (or updated) the org's team with the remaining credits")       \
  X(migrate_after_litellm_user_update, "migrate.after_litellm_user_update",                        \
    "LiteLLM POST /user/update lifted the user's own budget")                                      \
  X(migrate_after_litellm_member_add, "migrate.after_litellm_member_add",                          \
    "LiteLLM POST /team/member_add put the user in the org's team")                                \
  X(migrate_after_litellm_key_move, "migrate.after_litellm_key_move",                              \
    "LiteLLM POST /key/update moved one of the user's keys to the team")                           \
  X(migrate_after_litellm_key_generate, "migrate.after_litellm_key_generate",                      \
    "LiteLLM generated a new key because the stored one was refused with 401")                     \
  X(migrate_after_stripe_customer_update, "migrate.after_stripe_customer_update",                  \
    "Stripe POST /v1/customers/{id} pointed the user's customer at the org")                       \
  X(migrate_after_stripe_subscription_update, "migrate.after_stripe_subscription_update",          \
    "Stripe moved a subscription's metadata from the user to the org")                             \
  X(migrate_after_stripe_customer_create, "migrate.after_stripe_customer_create",                  \
    "Stripe created a customer for a user who had none (Idempotency-Key from the org id)")         \
  X(migrate_after_org_insert, "migrate.after_org_insert",                                          \
    "the personal org row is written in the migration's transaction, not committed")               \
  X(migrate_before_commit, "migrate.before_commit",                                                \
    "every database write of the migration is in the open transaction, about to COMMIT")          \
  X(migrate_after_commit, "migrate.after_commit",                                                  \
    "the migration's transaction committed (the point of no return); the caller is not answered")
// clang-format on
