// The reference migrator (migrator/reference_migrator.hpp says what it
// guarantees). Its steps are virtual so that the bug catalog can get one
// wrong at a time; the order they run in is fixed here.
#include "migrator/reference_migrator.hpp"

#include <fmt/format.h>

#include "migrator/failpoints/failpoint.hpp"
#include "migrator/io/pg_transaction.hpp"
#include "migrator/personal_org_rows.hpp"
#include "migrator/verification.hpp"

namespace orgquake::migrator {
namespace {

using nlohmann::json;

// Runs one named step; any failure becomes a MigrationError naming it.
template <typename Step>
auto run_step(const char* name, const std::string& user_id, Step step) -> decltype(step()) {
  try {
    return step();
  } catch (const MigrationError&) {
    throw;
  } catch (const std::exception& e) {
    throw MigrationError(name, user_id, e.what());
  }
}

bool is_uuid(std::string_view s) {
  if (s.size() != 36) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? s[i] != '-' : !std::isxdigit(static_cast<unsigned char>(s[i]))) return false;
  }
  return true;
}

json credits_json(const std::optional<double>& credits) {
  return credits ? json(*credits) : json(nullptr);
}

}  // namespace

void ReferenceMigrator::migrate_user(MigratorContext& ctx, const std::string& id,
                                     std::int64_t fencing_token) {
  const LegacyRow legacy = run_step("detect", id, [&] { return read_legacy(ctx, id); });
  if (run_step("detect", id, [&] { return is_already_migrated(ctx, id, legacy); })) {
    return;  // a second migration changes nothing
  }
  if (!is_uuid(id)) {
    throw MigrationError("detect", id,
                         "the id is not a UUID, and a personal org's id must equal it");
  }
  const std::string org_id = id;
  const Journal journal = run_step("journal", id, [&] { return open_journal(ctx, id, org_id); });

  run_step("litellm.team", id, [&] { ensure_team(ctx, org_id, legacy.username, journal); });
  ORGQUAKE_FAILPOINT(migrate_after_litellm_team_new);
  if (run_step("litellm.user_info", id,
               [&] { return litellm_entries_to_move(ctx, id, journal); })) {
    run_step("litellm.user_update", id, [&] { lift_user_budget(ctx, id); });
    ORGQUAKE_FAILPOINT(migrate_after_litellm_user_update);
    run_step("litellm.member_add", id, [&] { add_member(ctx, org_id, id); });
    ORGQUAKE_FAILPOINT(migrate_after_litellm_member_add);
    run_step("litellm.key_move", id, [&] { move_keys(ctx, org_id, id); });
    ORGQUAKE_FAILPOINT(migrate_after_litellm_key_move);
  }
  const std::string working_key = run_step("litellm.key_check", id, [&] {
    return ensure_working_key(ctx, org_id, id, legacy, journal);
  });
  ORGQUAKE_FAILPOINT(migrate_after_litellm_key_generate);

  const auto customers = run_step("stripe.read", id, [&] {
    return ctx.pg.exec(
        "SELECT stripe_customer_id FROM stripe_customers WHERE user_id = $1 ORDER BY id", {id});
  });
  std::string customer;
  const bool had_customer = !customers.empty();
  if (had_customer) {
    customer = std::string(customers.text(0, 0));  // the original customer is kept
    run_step("stripe.customer_update", id,
             [&] { point_customer_at_org(ctx, org_id, customer, legacy); });
    ORGQUAKE_FAILPOINT(migrate_after_stripe_customer_update);
    run_step("stripe.subscription_update", id,
             [&] { point_subscriptions_at_org(ctx, org_id, customer); });
    ORGQUAKE_FAILPOINT(migrate_after_stripe_subscription_update);
  } else {
    customer = run_step("stripe.customer_create", id,
                        [&] { return create_customer(ctx, id, org_id, legacy, journal); });
    ORGQUAKE_FAILPOINT(migrate_after_stripe_customer_create);
  }

  const bool committed = run_step("commit", id, [&] {
    return persist(ctx, id, org_id, legacy, working_key, customer, had_customer, fencing_token);
  });
  ORGQUAKE_FAILPOINT(migrate_after_commit);
  if (committed) ++ctx.stats.migrations;
}

LoadedUser ReferenceMigrator::get_user_verified(MigratorContext& ctx, const std::string& id,
                                                const LookupOptions& options) {
  if (options.fast_path) {
    // Most requests are for migrated users: no lock for them.
    if (auto user = load_user(ctx.pg, id, options.strategy, &ctx.stats.queries)) {
      verify_loaded(*user);
      return *user;
    }
  }
  RedisLock lock(ctx.redis, ctx.lock, Rng(ctx.rng.next()));
  // A waiter looks again after each release: the holder has most likely
  // migrated the user, who is then served without the lock, instead of
  // every waiter taking the lock in turn only to find the work done.
  std::optional<LoadedUser> migrated_meanwhile;
  const auto done_meanwhile = [&] {
    if (!options.fast_path) return false;
    migrated_meanwhile = load_user(ctx.pg, id, options.strategy, &ctx.stats.queries);
    return migrated_meanwhile.has_value();
  };
  const std::optional<LockLease> lease = take_lock(ctx, lock, id, done_meanwhile);
  if (migrated_meanwhile) {
    verify_loaded(*migrated_meanwhile);
    return *migrated_meanwhile;
  }
  struct Release {
    ReferenceMigrator& self;
    MigratorContext& ctx;
    RedisLock& lock;
    const std::optional<LockLease>& lease;
    ~Release() {
      if (!lease) return;
      try {
        ORGQUAKE_FAILPOINT(lookup_before_release);
        self.give_back_lock(ctx, lock, *lease);
      } catch (...) {
        // Redis gone or an injected error: the lease ends by its TTL.
      }
    }
  } release{*this, ctx, lock, lease};
  ORGQUAKE_FAILPOINT(lookup_after_lock_acquire);
  auto user = load_user(ctx.pg, id, options.strategy, &ctx.stats.queries);
  if (!user) {
    migrate_user(ctx, id, lease ? lease->fencing_token : 0);
    user = load_user(ctx.pg, id, options.strategy, &ctx.stats.queries);
  }
  ORGQUAKE_FAILPOINT(lookup_after_load);
  if (!user) {
    throw VerificationError(VerificationError::Problem::no_user, id, "no app_user after migration");
  }
  verify_loaded(*user);
  return *user;
}

bool ReferenceMigrator::backfill_user(MigratorContext& ctx, const std::string& id) {
  // A batch migration takes the same lock as the lookups it races.
  RedisLock lock(ctx.redis, ctx.lock, ctx.rng.derive("backfill"));
  const std::optional<LockLease> lease = take_lock(ctx, lock, id, [] { return false; });
  try {
    migrate_user(ctx, id, lease ? lease->fencing_token : 0);
  } catch (...) {
    if (lease) give_back_lock(ctx, lock, *lease);
    throw;
  }
  return lease && give_back_lock(ctx, lock, *lease);
}

std::optional<LockLease> ReferenceMigrator::take_lock(
    MigratorContext& ctx, RedisLock& lock, const std::string& id,
    const RedisLock::DoneMeanwhile& done_meanwhile) {
  return lock.acquire_unless(id, done_meanwhile, &ctx.stats.lock_waits);
}

bool ReferenceMigrator::give_back_lock(MigratorContext&, RedisLock& lock, const LockLease& lease) {
  return lock.release(lease);
}

ReferenceMigrator::LegacyRow ReferenceMigrator::read_legacy(MigratorContext& ctx,
                                                            const std::string& id) {
  const auto r = ctx.pg.exec(
      "SELECT username, email, llm_api_key, already_migrated FROM user_settings WHERE user_id = "
      "$1",
      {id});
  if (r.empty()) throw UnknownUser(id);
  return LegacyRow{std::string(r.text(0, 0)), r.optional_text(0, 1), r.optional_text(0, 2),
                   r.boolean(0, 3)};
}

bool ReferenceMigrator::is_already_migrated(MigratorContext&, const std::string&,
                                            const LegacyRow& legacy) {
  return legacy.already_migrated;
}

ReferenceMigrator::Journal ReferenceMigrator::open_journal(MigratorContext& ctx,
                                                           const std::string& id,
                                                           const std::string& org_id) {
  constexpr const char* kColumns =
      "credits_snapshot, has_litellm_user, replacement_key, created_customer";
  const auto journal_from = [](const io::PgResult& r) {
    Journal j;
    if (!r.is_null(0, 0)) j.credits = r.number(0, 0);
    j.has_litellm_user = r.boolean(0, 1);
    j.replacement_key = std::string(r.text(0, 2));
    j.created_customer = r.optional_text(0, 3);
    return j;
  };
  const auto existing = ctx.pg.exec(
      fmt::format("UPDATE migration_journal SET attempts = attempts + 1 WHERE user_id = $1 "
                  "RETURNING {}",
                  kColumns),
      {id});
  // A retry: the snapshot of the first attempt holds, whatever LiteLLM says now.
  if (!existing.empty()) return journal_from(existing);

  Journal j;
  std::optional<double> max_budget;
  double spend = 0;
  try {
    const json info = ctx.litellm.get("/user/info?user_id=" + io::url_encode(id));
    const json& user = info.at("user_info");
    if (!user.at("max_budget").is_null()) max_budget = user.at("max_budget").get<double>();
    spend = user.value("spend", 0.0);
  } catch (const LiteLlmError& e) {
    if (e.status() != 404) throw;
    j.has_litellm_user = false;  // never used the proxy: nothing to carry over
    max_budget = 0;
  }
  ORGQUAKE_FAILPOINT(migrate_after_litellm_user_info);
  j.credits = remaining_credits(max_budget, spend);
  // Chosen now, so that every attempt asks LiteLLM for the same key.
  j.replacement_key = fmt::format("sk-{:016x}{:016x}", ctx.rng.next(), ctx.rng.next());
  // The first journal written wins, should a holder whose lease expired race here.
  auto inserted = ctx.pg.exec(
      fmt::format("INSERT INTO migration_journal (user_id, org_id, credits_snapshot, "
                  "legacy_max_budget, legacy_spend, has_litellm_user, replacement_key) "
                  "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (user_id) DO NOTHING "
                  "RETURNING {}",
                  kColumns),
      {id, org_id, j.credits ? io::PgParam(fmt::format("{}", *j.credits)) : std::nullopt,
       max_budget ? io::PgParam(fmt::format("{}", *max_budget)) : std::nullopt,
       fmt::format("{}", spend), j.has_litellm_user ? "true" : "false", j.replacement_key});
  if (inserted.empty()) {
    inserted = ctx.pg.exec(
        fmt::format("SELECT {} FROM migration_journal WHERE user_id = $1", kColumns), {id});
  }
  ORGQUAKE_FAILPOINT(migrate_after_journal);
  return journal_from(inserted);
}

std::optional<double> ReferenceMigrator::remaining_credits(std::optional<double> max_budget,
                                                           double spend) {
  if (!max_budget) return std::nullopt;  // unlimited stays unlimited
  return std::max(0.0, *max_budget - spend);
}

void ReferenceMigrator::ensure_team(MigratorContext& ctx, const std::string& org_id,
                                    const std::string& alias, const Journal& journal) {
  try {
    ctx.litellm.post(
        "/team/new",
        {{"team_id", org_id}, {"team_alias", alias}, {"max_budget", credits_json(journal.credits)}},
        true);
  } catch (const LiteLlmError& e) {
    if (e.status() != 400 || !e.says("already exists")) throw;
    // Made by an earlier attempt: set the budget to the journaled snapshot again.
    ctx.litellm.post("/team/update",
                     {{"team_id", org_id}, {"max_budget", credits_json(journal.credits)}}, true);
  }
}

bool ReferenceMigrator::litellm_entries_to_move(MigratorContext&, const std::string&,
                                                const Journal& journal) {
  return journal.has_litellm_user;
}

void ReferenceMigrator::lift_user_budget(MigratorContext& ctx, const std::string& id) {
  // The org team's budget governs from now on.
  ctx.litellm.post("/user/update", {{"user_id", id}, {"max_budget", nullptr}}, true);
}

void ReferenceMigrator::add_member(MigratorContext& ctx, const std::string& org_id,
                                   const std::string& id) {
  try {
    ctx.litellm.post("/team/member_add",
                     {{"team_id", org_id}, {"member", {{"user_id", id}, {"role", "admin"}}}}, true);
  } catch (const LiteLlmError& e) {
    if (e.status() != 400 || !e.says("already in team")) throw;
  }
}

void ReferenceMigrator::move_keys(MigratorContext& ctx, const std::string& org_id,
                                  const std::string& id) {
  for (int page = 1;; ++page) {
    const json list = ctx.litellm.get(fmt::format(
        "/key/list?user_id={}&return_full_object=true&size=100&page={}", io::url_encode(id), page));
    for (const json& key : list.at("keys")) {
      if (key.value("team_id", json()).is_string() && key["team_id"] == org_id) continue;
      ctx.litellm.post("/key/update", {{"key", key.at("token")}, {"team_id", org_id}}, true);
    }
    if (page >= list.value("total_pages", 1)) break;
  }
}

std::string ReferenceMigrator::ensure_working_key(MigratorContext& ctx, const std::string& org_id,
                                                  const std::string& id, const LegacyRow& legacy,
                                                  const Journal& journal) {
  if (legacy.llm_api_key && ctx.litellm.key_works(*legacy.llm_api_key)) return *legacy.llm_api_key;
  try {
    ctx.litellm.post("/key/generate",
                     {{"key", journal.replacement_key},
                      {"user_id", id},
                      {"team_id", org_id},
                      {"key_alias", "orgquake-migrated-" + org_id}},
                     true);
  } catch (const LiteLlmError& e) {
    // Our own key from an earlier attempt: the journal chose its value.
    if (e.status() != 400 || !e.says("already exists")) throw;
  }
  return journal.replacement_key;
}

void ReferenceMigrator::point_customer_at_org(MigratorContext& ctx, const std::string& org_id,
                                              const std::string& customer,
                                              const LegacyRow& legacy) {
  StripeForm form{{"metadata[org_id]", org_id}, {"metadata[user_id]", ""}};
  if (legacy.email) form.emplace_back("email", *legacy.email);
  ctx.stripe.post("/v1/customers/" + customer, form,
                  fmt::format("orgquake-migrate-{}-customer", org_id));
}

void ReferenceMigrator::point_subscriptions_at_org(MigratorContext& ctx, const std::string& org_id,
                                                   const std::string& customer) {
  const json subscriptions = ctx.stripe.list_subscriptions(customer);
  for (const json& sub : subscriptions.at("data")) {
    const std::string sub_id = sub.at("id");
    ctx.stripe.post("/v1/subscriptions/" + sub_id,
                    {{"metadata[org_id]", org_id}, {"metadata[user_id]", ""}},
                    fmt::format("orgquake-migrate-{}-{}", org_id, sub_id));
  }
}

std::string ReferenceMigrator::create_customer(MigratorContext& ctx, const std::string& id,
                                               const std::string& org_id, const LegacyRow& legacy,
                                               const Journal& journal) {
  if (journal.created_customer) return *journal.created_customer;
  // Never search-before-create: Stripe's search lags writes. The
  // Idempotency-Key makes a repeat return the customer the first made.
  StripeForm form{{"name", legacy.username}, {"metadata[org_id]", org_id}};
  if (legacy.email) form.emplace_back("email", *legacy.email);
  const json created = ctx.stripe.post("/v1/customers", form,
                                       fmt::format("orgquake-migrate-{}-create-customer", org_id));
  const std::string customer = created.at("id");
  ctx.pg.exec("UPDATE migration_journal SET created_customer = $2 WHERE user_id = $1",
              {id, customer});
  return customer;
}

bool ReferenceMigrator::persist(MigratorContext& ctx, const std::string& id,
                                const std::string& org_id, const LegacyRow& legacy,
                                const std::string& working_key, const std::string& customer,
                                bool had_customer, std::int64_t fencing_token) {
  io::PgTransaction tx(ctx.pg);
  check_fence(ctx, id, fencing_token);
  if (ctx.pg.exec("SELECT already_migrated FROM user_settings WHERE user_id = $1 FOR UPDATE", {id})
          .boolean(0, 0)) {
    tx.commit();  // another holder finished meanwhile: nothing left to do
    return false;
  }
  insert_personal_org_rows(ctx.pg, id, legacy.username, legacy.email, working_key);
  persist_billing_row(ctx, id, org_id, customer, had_customer);
  mark_legacy_row_migrated(ctx, id);
  ORGQUAKE_FAILPOINT(migrate_before_commit);
  tx.commit();  // the point of no return
  return true;
}

void ReferenceMigrator::check_fence(MigratorContext& ctx, const std::string& id,
                                    std::int64_t fencing_token) {
  if (fencing_token <= 0) return;
  // Row-locks the fence: concurrent committers of one user serialize here.
  const auto fence = ctx.pg.exec(
      "INSERT INTO migration_fence (user_id, token) VALUES ($1, $2) ON CONFLICT (user_id) "
      "DO UPDATE SET token = EXCLUDED.token WHERE migration_fence.token <= EXCLUDED.token "
      "RETURNING token",
      {id, std::to_string(fencing_token)});
  if (fence.empty()) {
    const auto newer = ctx.pg.exec("SELECT token FROM migration_fence WHERE user_id = $1", {id});
    throw FencedOut(id, fencing_token, newer.empty() ? 0 : newer.integer(0, 0));
  }
}

void ReferenceMigrator::persist_billing_row(MigratorContext& ctx, const std::string& id,
                                            const std::string& org_id, const std::string& customer,
                                            bool had_customer) {
  if (had_customer) {
    ctx.pg.exec("UPDATE stripe_customers SET org_id = $2 WHERE user_id = $1", {id, org_id});
  } else {
    ctx.pg.exec(
        "INSERT INTO stripe_customers (user_id, org_id, stripe_customer_id) VALUES ($1, $2, $3)",
        {id, org_id, customer});
  }
}

void ReferenceMigrator::mark_legacy_row_migrated(MigratorContext& ctx, const std::string& id) {
  ctx.pg.exec("UPDATE user_settings SET already_migrated = true WHERE user_id = $1", {id});
}

void ReferenceMigrator::verify_loaded(const LoadedUser& user) {
  verify(user);
}

std::unique_ptr<Migrator> make_reference_migrator() {
  return std::make_unique<ReferenceMigrator>();
}

}  // namespace orgquake::migrator
