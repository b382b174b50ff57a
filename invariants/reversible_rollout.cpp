// The guide's third principle, reversible: a rollback must leave every user
// able to work through the legacy path, and no path may give a user more
// than they had. Two rules:
//
// Budget conservation, in every trial: what a user can still spend through
// LiteLLM, over every budget that governs one of their keys (their own
// budget for a key outside any team, a team's for a key in it, each capped
// by the keys' own budgets), is at most what they had left before the
// migration (max_budget - spend in the fixture). A team given the user's
// whole budget, an unlimited team, or the user's lifted budget with a key
// left outside the team all break it, through the org path or the legacy
// one.
//
// After a rollback (the flag back to 0 % with nobody allow-listed, or the
// database restored from a backup), the legacy path's own means still
// work: the key in the user's legacy row, if it worked before, exists at
// LiteLLM unblocked, in no blocked or missing team; the user's Stripe
// customer still exists.
//
// Symptom codes (results::Evidence::symptom):
//   credits_beyond_legacy   a user can spend more than they had left (data: user, legacy,
//                           spendable: a number or "unlimited", budgets)
//   legacy_key_unusable     after a rollback, the legacy row's key is gone, blocked, or in a team
//                           that is (data: user, key, why)
//   legacy_customer_gone    after a rollback, the user's Stripe customer is deleted or missing
//                           (data: user, customer)
#include <cmath>
#include <limits>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "invariants/capped_verdict.hpp"
#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

using history::EventType;

constexpr double unlimited = std::numeric_limits<double>::infinity();

double remaining(const std::optional<double>& max_budget, double spend) {
  return max_budget ? std::max(0.0, *max_budget - spend) : unlimited;
}

std::string amount(double value) {
  return std::isinf(value) ? std::string("unlimited") : fmt::format("{:.2f}", value);
}

bool rolled_back(const history::History* history) {
  if (history == nullptr) return false;
  for (const auto& e : history->events()) {
    if (e.type != EventType::rollout) continue;
    if (e.kind == "restore") return true;
    if (e.kind == "flag" && e.value.value("percentage", -1) == 0 &&
        e.value.value("allow_list", nlohmann::json::array()).empty()) {
      return true;
    }
  }
  return false;
}

class ReversibleRollout final : public Invariant {
 public:
  std::string_view name() const override { return "reversible_rollout"; }
  std::string_view description() const override {
    return "no user can spend beyond their legacy credits, and after a rollback the legacy "
           "path's key and customer still work";
  }

  Verdict check(const ObservedWorld& world) const override {
    CappedVerdict verdict("reversible rollout");
    std::map<std::string, const fakes::LlmUser*> users;
    for (const auto& user : world.litellm.users) users.emplace(user.user_id, &user);
    std::map<std::string, const fakes::LlmTeam*> teams;
    for (const auto& team : world.litellm.teams) teams.emplace(team.team_id, &team);
    std::map<std::string, std::vector<const fakes::LlmVirtualKey*>> keys_of;
    std::map<std::string, const fakes::LlmVirtualKey*> by_value;
    for (const auto& key : world.litellm.keys) {
      if (key.user_id) keys_of[*key.user_id].push_back(&key);
      by_value.emplace(key.key, &key);
    }

    int judged = 0;
    for (const auto& user : world.fixture.users) {
      const auto it = users.find(user.user_id);
      if (it == users.end()) continue;  // not a LiteLLM user: nothing to spend
      ++judged;
      // Per governing budget: its remaining and what its keys can still take.
      struct Governed {
        double budget = 0, keys = 0;
      };
      std::map<std::string, Governed> governing;  // "user" or "team <id>"
      for (const auto* key : keys_of[user.user_id]) {
        if (key->blocked) continue;
        std::string by = "user";
        double budget = remaining(it->second->max_budget, it->second->spend);
        if (key->team_id) {
          const auto team = teams.find(*key->team_id);
          if (team == teams.end() || team->second->blocked) continue;  // the key cannot spend
          by = "team " + *key->team_id;
          budget = remaining(team->second->max_budget, team->second->spend);
        }
        auto& governed = governing[by];
        governed.budget = budget;
        governed.keys += remaining(key->max_budget, key->spend);
      }
      double spendable = 0;
      auto budgets = nlohmann::json::object();
      for (const auto& [by, governed] : governing) {
        const double can = std::min(governed.budget, governed.keys);
        spendable += can;
        budgets[by] = amount(can);
      }
      const double legacy = user.remaining_credits();
      if (spendable > legacy + 1e-6) {
        verdict.violation(
            "credits_beyond_legacy",
            fmt::format(
                "user {} can spend {} through LiteLLM, but had {} left before the migration",
                user.user_id, amount(spendable), amount(legacy)),
            {{"user", user.user_id},
             {"legacy", legacy},
             {"spendable",
              std::isinf(spendable) ? nlohmann::json("unlimited") : nlohmann::json(spendable)},
             {"budgets", budgets}});
      }
    }

    const bool rollback = rolled_back(world.history);
    if (rollback) check_legacy_means(world, by_value, teams, verdict);
    return verdict.finish(
        fmt::format("{} LiteLLM users' credits{}", judged,
                    rollback ? ", the legacy keys and customers after a rollback" : ""));
  }

 private:
  static void check_legacy_means(const ObservedWorld& world,
                                 const std::map<std::string, const fakes::LlmVirtualKey*>& by_value,
                                 const std::map<std::string, const fakes::LlmTeam*>& teams,
                                 CappedVerdict& verdict) {
    std::map<std::string, const fakes::StripeCustomer*> customers;
    for (const auto& customer : world.stripe.customers) customers.emplace(customer.id, &customer);
    for (const auto& user : world.fixture.users) {
      if (user.llm_api_key) {
        bool worked = false;
        for (const auto& key : user.keys)
          worked = worked || (key.key == *user.llm_api_key && !key.blocked);
        const auto key = by_value.find(*user.llm_api_key);
        std::string why;
        if (!worked) {
          why = "";  // it did not work before either
        } else if (key == by_value.end()) {
          why = "LiteLLM no longer has it";
        } else if (key->second->blocked) {
          why = "it is blocked";
        } else if (key->second->team_id) {
          const auto team = teams.find(*key->second->team_id);
          if (team == teams.end())
            why = "its team " + *key->second->team_id + " is gone";
          else if (team->second->blocked)
            why = "its team " + *key->second->team_id + " is blocked";
        }
        if (!why.empty()) {
          verdict.violation(
              "legacy_key_unusable",
              fmt::format("after the rollback, user {}'s legacy key does not work: {}",
                          user.user_id, why),
              {{"user", user.user_id}, {"key", *user.llm_api_key}, {"why", why}});
        }
      }
      if (user.stripe_customer_id) {
        const auto customer = customers.find(*user.stripe_customer_id);
        if (customer == customers.end() || customer->second->deleted) {
          verdict.violation("legacy_customer_gone",
                            fmt::format("after the rollback, user {}'s Stripe customer {} is gone",
                                        user.user_id, *user.stripe_customer_id),
                            {{"user", user.user_id}, {"customer", *user.stripe_customer_id}});
        }
      }
    }
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(ReversibleRollout);
}  // namespace orgquake::invariants
