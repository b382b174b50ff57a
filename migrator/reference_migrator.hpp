#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "migrator/io/pg_connection.hpp"
#include "migrator/migrator.hpp"

namespace orgquake::migrator {

/// The reference migrator: correct under concurrent duplicate lookups, a
/// crash between any two steps, a lock holder paused past its lease, and
/// failing HTTP APIs. Every external step is safe to repeat; what a retry
/// needs is journaled before the first external call; the database part is
/// one transaction fenced by the lock's token.
///
/// Each step is a protected virtual member, named for the rule it keeps, so
/// that an entry of the bug catalog (migrator/bugs/) is this migrator with
/// exactly one step done wrong.
class ReferenceMigrator : public Migrator {
 public:
  std::string_view name() const override { return "reference"; }

  void migrate_user(MigratorContext& ctx, const std::string& legacy_user_id,
                    std::int64_t fencing_token) override;
  LoadedUser get_user_verified(MigratorContext& ctx, const std::string& legacy_user_id,
                               const LookupOptions& options) override;
  bool backfill_user(MigratorContext& ctx, const std::string& legacy_user_id) override;
  bool compensates() const override { return true; }
  /// migrator/compensation.cpp: the migration's external steps undone, in
  /// reverse, each safe to repeat, under the user's lock.
  bool compensate_user(MigratorContext& ctx, const std::string& legacy_user_id) override;

 protected:
  /// What a retry needs, recorded before the first external call.
  struct Journal {
    std::optional<double> credits;  ///< remaining legacy credits; nullopt: unlimited
    bool has_litellm_user = true;
    std::string replacement_key;
    std::optional<std::string> created_customer;
  };

  /// The legacy row, as detect reads it.
  struct LegacyRow {
    std::string username;
    std::optional<std::string> email;
    std::optional<std::string> llm_api_key;
    bool already_migrated = false;
  };

  // ---- the lock ----------------------------------------------------------

  /// Takes the user's lock, waiting at most the lock's max_wait. Never goes
  /// on without it: Redis unreachable is the lookup's error. nullopt means
  /// "not needed any more" (done_meanwhile said so) or, from a catalog bug
  /// only, "proceed unlocked" (token 0).
  /// While it waits, `done_meanwhile` is asked after each release whether
  /// the lock is still needed; nullopt too when it said no.
  virtual std::optional<LockLease> take_lock(MigratorContext& ctx, RedisLock& lock,
                                             const std::string& id,
                                             const RedisLock::DoneMeanwhile& done_meanwhile);
  /// Releases the lease only if it is still ours (compare-and-delete);
  /// false if it had expired meanwhile.
  virtual bool give_back_lock(MigratorContext& ctx, RedisLock& lock, const LockLease& lease);

  // ---- detect ------------------------------------------------------------

  virtual LegacyRow read_legacy(MigratorContext& ctx, const std::string& id);
  /// Migrated means the database says so (already_migrated, set in the
  /// migration's own transaction), never a guess from an external system.
  virtual bool is_already_migrated(MigratorContext& ctx, const std::string& id,
                                   const LegacyRow& legacy);

  // ---- the journal -------------------------------------------------------

  /// The journal of this user's migration: the first attempt's snapshot of
  /// the credits, whatever LiteLLM says on a retry.
  virtual Journal open_journal(MigratorContext& ctx, const std::string& id,
                               const std::string& org_id);
  /// The credits the org team gets: what the user had left (budget - spend).
  virtual std::optional<double> remaining_credits(std::optional<double> max_budget, double spend);

  // ---- LiteLLM -----------------------------------------------------------

  virtual void ensure_team(MigratorContext& ctx, const std::string& org_id,
                           const std::string& alias, const Journal& journal);
  /// Whether the user's own LiteLLM entries (budget, membership, keys) are
  /// still to be moved: whenever the user exists there, because every step
  /// repeats safely. Never decided from what LiteLLM looks like now.
  virtual bool litellm_entries_to_move(MigratorContext& ctx, const std::string& id,
                                       const Journal& journal);
  virtual void lift_user_budget(MigratorContext& ctx, const std::string& id);
  virtual void add_member(MigratorContext& ctx, const std::string& org_id, const std::string& id);
  virtual void move_keys(MigratorContext& ctx, const std::string& org_id, const std::string& id);
  virtual std::string ensure_working_key(MigratorContext& ctx, const std::string& org_id,
                                         const std::string& id, const LegacyRow& legacy,
                                         const Journal& journal);

  // ---- Stripe ------------------------------------------------------------

  virtual void point_customer_at_org(MigratorContext& ctx, const std::string& org_id,
                                     const std::string& customer, const LegacyRow& legacy);
  virtual void point_subscriptions_at_org(MigratorContext& ctx, const std::string& org_id,
                                          const std::string& customer);
  /// A new customer by Idempotency-Key, never by search-before-create.
  virtual std::string create_customer(MigratorContext& ctx, const std::string& id,
                                      const std::string& org_id, const LegacyRow& legacy,
                                      const Journal& journal);

  // ---- persist -----------------------------------------------------------

  /// The one transaction: fence, org rows, billing row, migrated flag.
  /// False if another holder committed first.
  virtual bool persist(MigratorContext& ctx, const std::string& id, const std::string& org_id,
                       const LegacyRow& legacy, const std::string& working_key,
                       const std::string& customer, bool had_customer, std::int64_t fencing_token);
  /// Inside persist's transaction: refuses a token older than one committed.
  void check_fence(MigratorContext& ctx, const std::string& id, std::int64_t fencing_token);
  /// Inside persist's transaction: the user's billing row now names the org.
  virtual void persist_billing_row(MigratorContext& ctx, const std::string& id,
                                   const std::string& org_id, const std::string& customer,
                                   bool had_customer);

  /// Inside persist's transaction: the legacy row says "migrated" and is
  /// otherwise left as it was (the legacy read path still answers from it).
  virtual void mark_legacy_row_migrated(MigratorContext& ctx, const std::string& id);

  // ---- the lookup --------------------------------------------------------

  /// The lookup's check of what it loaded: org, current org, owner role.
  virtual void verify_loaded(const LoadedUser& user);
};

}  // namespace orgquake::migrator
