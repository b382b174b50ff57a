// The seed documents' pseudocode taken literally. It exists so that the
// harness can show what it catches, and is never the default. Each shortcut
// below is a bug class that shipped in real migrations of this kind:
// - the lock is released with a plain DEL (no owner check), carries no
//   fencing token, and when Redis is down the lookup proceeds without it;
// - external calls run before the commit with no journal: credits are
//   recomputed on every attempt (after the budget was lifted, from nothing),
//   and "the user is already in the team" is taken to mean the LiteLLM part
//   is done (keys left on the user, never moved);
// - a zero budget reads as "budget already lifted", so it skips LiteLLM;
// - Stripe customers are deduplicated by search-before-create, which lags;
// - the org's billing row is inserted beside the user's instead of updating
//   it (duplicate stripe_customers rows).
#include <boost/fiber/operations.hpp>
#include <fmt/format.h>

#include "migrator/failpoints/failpoint.hpp"
#include "migrator/io/pg_transaction.hpp"
#include "migrator/migrator.hpp"
#include "migrator/personal_org_rows.hpp"
#include "migrator/verification.hpp"

namespace orgquake::migrator {
namespace {

using nlohmann::json;

class SeedNaiveMigrator final : public Migrator {
 public:
  std::string_view name() const override { return "seed_naive"; }

  void migrate_user(MigratorContext& ctx, const std::string& id, std::int64_t) override {
    const auto row = ctx.pg.exec(
        "SELECT username, email, llm_api_key FROM user_settings WHERE user_id = $1", {id});
    if (row.empty()) throw UnknownUser(id);
    const std::string username(row.text(0, 0));
    const auto email = row.optional_text(0, 1);
    const auto stored_key = row.optional_text(0, 2);
    // "If the user already has a personal organization, skip creation."
    if (!ctx.pg.exec("SELECT 1 FROM org WHERE owner_user_id = $1 AND kind = 'personal'", {id})
             .empty()) {
      return;
    }
    const std::string org_id = id;

    // LLM proxy entries, before anything is committed.
    const json info = ctx.litellm.get("/user/info?user_id=" + io::url_encode(id));
    ORGQUAKE_FAILPOINT(migrate_after_litellm_user_info);
    const json& user = info.at("user_info");
    const bool budget_lifted = user.at("max_budget").is_null() || user.at("max_budget") == 0;
    bool in_team = false;
    for (const json& team : info.value("teams", json::array()))
      in_team |= team.value("team_id", "") == org_id;
    if (!budget_lifted && !in_team) {
      ctx.litellm.post("/user/update", {{"user_id", id}, {"max_budget", nullptr}}, false);
      ORGQUAKE_FAILPOINT(migrate_after_litellm_user_update);
      // Credits from what LiteLLM says now: the budget was lifted a moment ago.
      const json now = ctx.litellm.get("/user/info?user_id=" + io::url_encode(id)).at("user_info");
      const json credits = now.at("max_budget").is_null()
                               ? json(nullptr)
                               : json(now["max_budget"].get<double>() - now.value("spend", 0.0));
      try {
        ctx.litellm.post("/team/new",
                         {{"team_id", org_id}, {"team_alias", username}, {"max_budget", credits}},
                         false);
      } catch (const LiteLlmError& e) {
        if (!e.says("already exists")) throw;
      }
      ORGQUAKE_FAILPOINT(migrate_after_litellm_team_new);
      ctx.litellm.post("/team/member_add",
                       {{"team_id", org_id}, {"member", {{"user_id", id}, {"role", "admin"}}}},
                       false);
      ORGQUAKE_FAILPOINT(migrate_after_litellm_member_add);
      const json keys = ctx.litellm.get("/key/list?return_full_object=true&size=100&user_id=" +
                                        io::url_encode(id));
      for (const json& key : keys.at("keys")) {
        ctx.litellm.post("/key/update", {{"key", key.at("token")}, {"team_id", org_id}}, false);
      }
      ORGQUAKE_FAILPOINT(migrate_after_litellm_key_move);
    }
    std::string working_key = stored_key.value_or("");
    if (!stored_key || !ctx.litellm.key_works(*stored_key)) {
      working_key = ctx.litellm.post("/key/generate", {{"user_id", id}, {"team_id", org_id}}, false)
                        .at("key");
    }
    ORGQUAKE_FAILPOINT(migrate_after_litellm_key_generate);

    // Billing: find the org's customer by search, create one if none shows up.
    const auto customers =
        ctx.pg.exec("SELECT stripe_customer_id FROM stripe_customers WHERE user_id = $1", {id});
    std::string customer;
    if (!customers.empty()) {
      customer = std::string(customers.text(0, 0));
      ctx.stripe.post("/v1/customers/" + customer,
                      {{"metadata[org_id]", org_id}, {"metadata[user_id]", ""}},
                      fmt::format("{:016x}", ctx.rng.next()));
      ORGQUAKE_FAILPOINT(migrate_after_stripe_customer_update);
    } else {
      const json found =
          ctx.stripe.search_customers(fmt::format("metadata['org_id']:'{}'", org_id));
      if (!found.at("data").empty()) {
        customer = found["data"][0].at("id");
      } else {
        customer = ctx.stripe
                       .post("/v1/customers", {{"name", username}, {"metadata[org_id]", org_id}},
                             fmt::format("{:016x}", ctx.rng.next()))
                       .at("id");
      }
      ORGQUAKE_FAILPOINT(migrate_after_stripe_customer_create);
    }

    io::PgTransaction tx(ctx.pg);
    insert_personal_org_rows(ctx.pg, id, username, email, working_key);
    ctx.pg.exec(
        "INSERT INTO stripe_customers (user_id, org_id, stripe_customer_id) VALUES ($1, $2, $3)",
        {id, org_id, customer});
    ctx.pg.exec("UPDATE user_settings SET already_migrated = true WHERE user_id = $1", {id});
    ORGQUAKE_FAILPOINT(migrate_before_commit);
    tx.commit();
    ORGQUAKE_FAILPOINT(migrate_after_commit);
    ++ctx.stats.migrations;
  }

  LoadedUser get_user_verified(MigratorContext& ctx, const std::string& id,
                               const LookupOptions& options) override {
    // async with distributed_lock(key=f"user:{user_id}"):
    const std::string key = ctx.lock.key_prefix + id;
    bool locked = false;
    try {
      const auto give_up = std::chrono::steady_clock::now() + ctx.lock.max_wait;
      while (!locked) {
        locked =
            !ctx.redis.command({"SET", key, "1", "NX", "PX", std::to_string(ctx.lock.ttl.count())})
                 .is_nil();
        if (locked) break;
        ++ctx.stats.lock_waits;
        if (std::chrono::steady_clock::now() > give_up) throw LockTimeout(id, ctx.lock.max_wait, 0);
        boost::this_fiber::sleep_for(ctx.lock.retry_min);
      }
    } catch (const io::RedisUnavailable&) {
      // "Graceful degradation", misread: go on without the lock.
    }
    ORGQUAKE_FAILPOINT(lookup_after_lock_acquire);
    std::optional<LoadedUser> user;
    try {
      user = load_user(ctx.pg, id, options.strategy, &ctx.stats.queries);
      if (!user) {
        migrate_user(ctx, id, 0);
        user = load_user(ctx.pg, id, options.strategy, &ctx.stats.queries);
      }
    } catch (...) {
      if (locked) release(ctx, key);
      throw;
    }
    ORGQUAKE_FAILPOINT(lookup_before_release);
    if (locked) release(ctx, key);
    if (!user)
      throw VerificationError(VerificationError::Problem::no_user, id,
                              "no app_user after migration");
    verify(*user);
    return *user;
  }

 private:
  static void release(MigratorContext& ctx, const std::string& key) {
    try {
      ctx.redis.command({"DEL", key});  // whoever holds it now
    } catch (const std::exception&) {
    }
  }
};

}  // namespace

std::unique_ptr<Migrator> make_seed_naive_migrator() {
  return std::make_unique<SeedNaiveMigrator>();
}

}  // namespace orgquake::migrator
