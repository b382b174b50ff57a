#pragma once

// One function per file of migrator/bugs/, each returning its catalog entry;
// bug_catalog.cpp lists them in order.
#include "migrator/bugs/bug_catalog.hpp"

namespace orgquake::migrator::bugs {

CatalogBug release_without_owner_check();
CatalogBug no_lock_when_redis_down();
CatalogBug wait_for_lock_forever();
CatalogBug lock_without_expiry();
CatalogBug skip_litellm_when_budget_lifted();
CatalogBug credits_recomputed_after_lift();
CatalogBug search_before_create_customer();
CatalogBug unlocked_backfill();
CatalogBug zero_budget_taken_as_migrated();
CatalogBug duplicate_billing_rows();
CatalogBug org_and_membership_apart();
CatalogBug verification_without_owner();
CatalogBug subscriptions_left_on_user();
CatalogBug credits_ignore_spend();
CatalogBug legacy_settings_cleared();

}  // namespace orgquake::migrator::bugs
