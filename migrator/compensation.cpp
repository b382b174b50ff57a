// The reference migrator's compensation: after the database was restored
// from a backup taken before the user's migration (the migration guide's
// rollback of a backfill), LiteLLM and Stripe still hold the migration's
// external half. Nothing in the restored database remembers it (the journal
// went with the restore), so each step finds what to undo by the personal
// org's id, which equals the user's id, and each is safe to repeat:
//
//   Stripe: the user's own customers (their billing rows survived the
//   restore) name the user again, not the org; their subscriptions too; a
//   customer the migration created for the org is deleted.
//   LiteLLM: the user's keys leave the org's team (the key the migration
//   generated is deleted), the user's own budget is set so that they can
//   spend exactly what the team had left, and the team goes.
#include <fmt/format.h>

#include "migrator/reference_migrator.hpp"

namespace orgquake::migrator {
namespace {

using nlohmann::json;

/// A JSON number, or nullopt for null or absent.
std::optional<double> number_or_null(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

/// Whether a LiteLLM error says the thing is not there.
bool absent(const LiteLlmError& e) {
  return e.status() == 404;
}

bool undo_stripe(MigratorContext& ctx, const std::string& id, const std::string& org_id) {
  bool undone = false;
  const auto own = ctx.pg.exec(
      "SELECT stripe_customer_id, email FROM stripe_customers JOIN user_settings USING (user_id) "
      "WHERE user_id = $1 ORDER BY id",
      {id});
  std::optional<std::string> email;
  for (int row = 0; row < own.rows(); ++row) {
    const std::string customer(own.text(row, 0));
    const json found = ctx.stripe.retrieve_customer(customer);
    const json metadata = found.value("metadata", json::object());
    if (metadata.value("org_id", "") == org_id) {
      ctx.stripe.post("/v1/customers/" + customer,
                      {{"metadata[org_id]", ""}, {"metadata[user_id]", id}},
                      fmt::format("orgquake-compensate-{}-customer", org_id));
      undone = true;
    }
    const json subscriptions = ctx.stripe.list_subscriptions(customer);  // outlives the loop
    for (const json& sub : subscriptions.at("data")) {
      if (sub.value("metadata", json::object()).value("org_id", "") != org_id) continue;
      const std::string sub_id = sub.at("id");
      ctx.stripe.post("/v1/subscriptions/" + sub_id,
                      {{"metadata[org_id]", ""}, {"metadata[user_id]", id}},
                      fmt::format("orgquake-compensate-{}-{}", org_id, sub_id));
      undone = true;
    }
  }
  if (own.rows() > 0) return undone;
  // A user without a customer got one for the org: the listing by email
  // finds it (listing, unlike search, does not lag writes).
  const auto legacy = ctx.pg.exec("SELECT email FROM user_settings WHERE user_id = $1", {id});
  if (legacy.empty() || legacy.is_null(0, 0)) return undone;
  const json listed = ctx.stripe.get("/v1/customers?limit=100&email=" +
                                     io::url_encode(std::string(legacy.text(0, 0))));
  for (const json& customer : listed.at("data")) {
    if (customer.value("metadata", json::object()).value("org_id", "") != org_id) continue;
    try {
      ctx.stripe.remove("/v1/customers/" + customer.at("id").get<std::string>());
    } catch (const StripeError& e) {
      if (e.status() != 404) throw;  // deleted by an earlier attempt
    }
    undone = true;
  }
  return undone;
}

bool undo_litellm(MigratorContext& ctx, const std::string& id, const std::string& org_id) {
  json team;
  try {
    team = ctx.litellm.get("/team/info?team_id=" + io::url_encode(org_id)).at("team_info");
  } catch (const LiteLlmError& e) {
    if (!absent(e)) throw;
    return false;  // never made, or compensated already
  }
  json user;
  try {
    user = ctx.litellm.get("/user/info?user_id=" + io::url_encode(id));
  } catch (const LiteLlmError& e) {
    if (!absent(e)) throw;
  }
  if (user.is_object()) {
    // What the team had left is what the user may spend on their own again.
    const auto team_budget = number_or_null(team, "max_budget");
    const double team_spend = number_or_null(team, "spend").value_or(0);
    const double user_spend = number_or_null(user.at("user_info"), "spend").value_or(0);
    const json budget =
        team_budget ? json(user_spend + std::max(0.0, *team_budget - team_spend)) : json(nullptr);
    ctx.litellm.post("/user/update", {{"user_id", id}, {"max_budget", budget}}, true);
    for (const json& key : user.value("keys", json::array())) {
      if (!key.value("team_id", json()).is_string() || key["team_id"] != org_id) continue;
      if (key.value("key_alias", json()) == json("orgquake-migrated-" + org_id)) {
        ctx.litellm.post("/key/delete", {{"keys", {key.at("token")}}}, true);
      } else {
        ctx.litellm.post("/key/update", {{"key", key.at("token")}, {"team_id", nullptr}}, true);
      }
    }
  }
  // Deleting the team deletes the keys still in it: only ours are left.
  ctx.litellm.post("/team/delete", {{"team_ids", {org_id}}}, true);
  return true;
}

}  // namespace

bool ReferenceMigrator::compensate_user(MigratorContext& ctx, const std::string& id) {
  RedisLock lock(ctx.redis, ctx.lock, ctx.rng.derive("compensate"));
  const auto lease = lock.acquire(id, &ctx.stats.lock_waits);
  bool undone = false;
  try {
    const auto migrated =
        ctx.pg.exec("SELECT already_migrated FROM user_settings WHERE user_id = $1", {id});
    if (migrated.empty()) throw UnknownUser(id);
    // A user the database says is migrated keeps its external half.
    if (migrated.text(0, 0) != "t") {
      const std::string org_id = id;  // a personal org's id is its owner's
      // Named steps, as the migration's: a failure says which and a retry converges.
      const auto step = [&](const char* name, auto undo) {
        try {
          undone = undo(ctx, id, org_id) || undone;
        } catch (const MigrationError&) {
          throw;
        } catch (const std::exception& e) {
          throw MigrationError(name, id, e.what());
        }
      };
      step("compensate.stripe", undo_stripe);
      step("compensate.litellm", undo_litellm);
    }
  } catch (...) {
    lock.release(lease);
    throw;
  }
  lock.release(lease);
  return undone;
}

}  // namespace orgquake::migrator
