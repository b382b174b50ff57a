// The guide's first principle, non-breaking: existing users keep working
// while the rollout moves. A request (op `serve`) answers with what the user
// had before the migration began, through whichever path the flag picked:
// the fixture's settings, key and billing identity. Two differences are
// migration's on purpose and allowed: on the org path a key that no longer
// worked (blocked at LiteLLM) is replaced, and a user who had no Stripe
// customer gets one, the same one in every request after. The request's
// own Scientist comparison of the two paths must find them agreeing. A
// request may fail only for a reason a fault or the lock explains.
//
// Symptom codes (results::Evidence::symptom):
//   request_failed             a request failed with an error no injected fault explains
//                              (data: op, user, error, message)
//   answer_changed             a request's answer differs from the user's data before the
//                              migration (data: op, user, path, field, expected, served)
//   billing_identity_changed   requests named different customers for a user who had none
//                              (data: user, customers)
//   paths_disagree             the request's comparison found the legacy and org paths
//                              answering differently (data: op, user, path, mismatches)
#include <map>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "history/operations.hpp"
#include "invariants/capped_verdict.hpp"
#include "invariants/invariant.hpp"
#include "invariants/rollout_flags.hpp"

namespace orgquake::invariants {
namespace {

using history::EventType;
using history::string_field;

/// Errors a request may end with when something was made to fail: the
/// lock's refusals always, the infrastructure's when a fault fired. A
/// VerificationError, UnknownUser or an unnamed Error is the application
/// breaking, whatever else happened.
bool excused(const std::string& error, bool faults_fired) {
  if (error == "LockTimeout" || error == "FencedOut") return true;
  if (!faults_fired) return false;
  return error == "RedisUnavailable" || error == "MigrationError" || error == "InjectedError" ||
         error == "PgConnectionError" || error == "PgError" || error == "HttpError";
}

nlohmann::json optional_json(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

class NonBreakingRollout final : public Invariant {
 public:
  std::string_view name() const override { return "non_breaking_rollout"; }
  std::string_view description() const override {
    return "no request fails or changes its answer because the rollout moved";
  }

  Verdict check(const ObservedWorld& world) const override {
    if (world.history == nullptr) {
      return Verdict::unknown("non-breaking rollout: no history recorded");
    }
    const auto& history = *world.history;
    if (!has_serves(history)) {
      return VerdictBuilder("non-breaking rollout").finish("no requests under the rollout flag");
    }
    bool faults_fired = false;
    for (const auto& e : history.events())
      faults_fired = faults_fired || e.type == EventType::fault;
    std::unordered_map<std::string, const world::LegacyUser*> fixture;
    for (const auto& user : world.fixture.users) fixture.emplace(user.user_id, &user);

    CappedVerdict verdict("non-breaking rollout");
    std::map<std::string, std::set<std::string>> created_customers;
    int served = 0;
    for (const auto& op : history::operations_of(history)) {
      const auto& first = op.first();
      if (first.kind != history::op_serve || op.completion == nullptr) continue;
      const auto& end = *op.completion;
      if (end.type == EventType::fail) {
        const auto error = string_field(end.value, "error");
        if (excused(error, faults_fired)) continue;
        verdict.violation("request_failed",
                          fmt::format("op {} serving user {} failed with {}: {}", first.op,
                                      first.user, error, string_field(end.value, "message")),
                          {{"op", first.op},
                           {"user", first.user},
                           {"error", error},
                           {"message", string_field(end.value, "message")}});
        continue;
      }
      if (end.type != EventType::ok) continue;  // outcome unknown: nothing answered
      ++served;
      const auto it = fixture.find(first.user);
      if (it == fixture.end()) continue;  // no such user: the request had to fail
      const auto& user = *it->second;
      const std::string path = string_field(end.value, "path");
      const auto answers = end.value.value("answers", nlohmann::json::object());
      const auto changed = [&](const char* field, const nlohmann::json& expected) {
        const auto served_value = answers.value(field, nlohmann::json());
        if (served_value == expected) return;
        verdict.violation(
            "answer_changed",
            fmt::format("op {} served user {} by the {} path with {} {}, not {}", first.op,
                        first.user, path, field, served_value.dump(), expected.dump()),
            {{"op", first.op},
             {"user", first.user},
             {"path", path},
             {"field", field},
             {"expected", expected},
             {"served", served_value}});
      };
      changed("username", user.username);
      changed("email", user.email);
      changed("llm_model", user.llm_model);
      changed("user_version", user.user_version);
      changed("settings", nlohmann::json::parse(user.settings_json, nullptr, false));
      const auto key = answers.value("api_key", nlohmann::json());
      const bool stored_key_blocked = !user.keys.empty() && user.llm_api_key &&
                                      user.keys.front().key == *user.llm_api_key &&
                                      user.keys.front().blocked;
      const bool replaced =
          path == "org" && key.is_string() && (!user.llm_api_key || stored_key_blocked);
      if (!replaced) changed("api_key", optional_json(user.llm_api_key));
      const auto billing = answers.value("billing", nlohmann::json::array());
      if (user.stripe_customer_id) {
        changed("billing", nlohmann::json::array({*user.stripe_customer_id}));
      } else if (billing.is_array() && billing.size() > 1) {
        changed("billing", nlohmann::json::array());
      } else if (billing.is_array() && billing.size() == 1 && billing[0].is_string()) {
        created_customers[user.user_id].insert(billing[0].get<std::string>());
      }
      const auto mismatches = end.value.value("mismatches", nlohmann::json::array());
      if (mismatches.is_array() && !mismatches.empty()) {
        verdict.violation(
            "paths_disagree",
            fmt::format("op {} serving user {} by the {} path found the other path "
                        "answering differently: {}",
                        first.op, first.user, path, mismatches.dump()),
            {{"op", first.op}, {"user", first.user}, {"path", path}, {"mismatches", mismatches}});
      }
    }
    for (const auto& [user, customers] : created_customers) {
      if (customers.size() < 2) continue;
      verdict.violation("billing_identity_changed",
                        fmt::format("requests for user {}, who had no Stripe customer, named {} "
                                    "different ones",
                                    user, customers.size()),
                        {{"user", user}, {"customers", customers}});
    }
    return verdict.finish(fmt::format("{} requests served", served));
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(NonBreakingRollout);
}  // namespace orgquake::invariants
