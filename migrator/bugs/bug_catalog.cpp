#include "migrator/bugs/bug_catalog.hpp"

#include "migrator/bugs/bugs.hpp"

namespace orgquake::migrator::bugs {

const std::vector<CatalogBug>& bug_catalog() {
  // The lock's rules first, then detect, transform, persist, and the lookup.
  static const std::vector<CatalogBug> catalog = {
      release_without_owner_check(),
      no_lock_when_redis_down(),
      wait_for_lock_forever(),
      lock_without_expiry(),
      unlocked_backfill(),
      zero_budget_taken_as_migrated(),
      skip_litellm_when_budget_lifted(),
      credits_recomputed_after_lift(),
      credits_ignore_spend(),
      search_before_create_customer(),
      subscriptions_left_on_user(),
      duplicate_billing_rows(),
      org_and_membership_apart(),
      legacy_settings_cleared(),
      verification_without_owner(),
  };
  return catalog;
}

const CatalogBug* find_bug(std::string_view name) {
  if (name.substr(0, bug_prefix.size()) == bug_prefix) name.remove_prefix(bug_prefix.size());
  for (const auto& bug : bug_catalog()) {
    if (bug.name == name) return &bug;
  }
  return nullptr;
}

}  // namespace orgquake::migrator::bugs
