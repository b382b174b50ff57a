#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace orgquake::world {

/// Which awkward case a fixture user exercises. A user may carry several.
enum class EdgeCase : std::uint32_t {
  none = 0,
  no_stripe_customer =
      1u << 0,  ///< never had a Stripe customer: migration creates exactly one, for the org
  zero_budget = 1u << 1,  ///< max_budget == spend: zero remaining is not "already migrated"
  two_keys = 1u << 2,     ///< two LiteLLM keys: both must move, neither duplicated
  expired_key = 1u << 3,  ///< stored key is blocked at LiteLLM: migration generates a new one
  quoted_unicode_name = 1u << 4,  ///< username with quotes and non-ASCII text
  subscription = 1u << 5,         ///< has a Stripe subscription whose metadata must move too
};

constexpr EdgeCase operator|(EdgeCase a, EdgeCase b) {
  return static_cast<EdgeCase>(static_cast<std::uint32_t>(a) | static_cast<std::uint32_t>(b));
}
constexpr bool has(EdgeCase set, EdgeCase flag) {
  return (static_cast<std::uint32_t>(set) & static_cast<std::uint32_t>(flag)) != 0;
}

/// All edge cases with their names, for reports and `orgquake list`.
struct EdgeCaseInfo {
  EdgeCase flag;
  const char* name;
};
const std::vector<EdgeCaseInfo>& all_edge_cases();

/// A LiteLLM virtual key owned by a legacy user.
struct LlmKey {
  std::string key;    ///< "sk-..." as LiteLLM issues them
  std::string alias;  ///< key_alias
  bool blocked = false;
};

struct Conversation {
  std::string id;
  std::string title;
  std::int64_t created_at_unix = 0;
};

/// One legacy user: the database rows and the fakes' state describe the same
/// person, generated together so that they are consistent.
struct LegacyUser {
  std::string user_id;   ///< a UUID in text form, as the seed system's identity provider issues
  std::string username;  ///< unique across the world (it names the personal org)
  std::string email;
  std::string llm_model;
  std::optional<std::string> llm_api_key;  ///< the key stored in user_settings
  int user_version = 1;
  std::string settings_json;  ///< user_settings.settings
  std::vector<Conversation> conversations;

  // Stripe side.
  std::optional<std::string> stripe_customer_id;      ///< "cus_..."; absent for no_stripe_customer
  std::optional<std::string> stripe_subscription_id;  ///< "sub_..."; present for subscription

  // LiteLLM side, in USD as LiteLLM keeps budgets.
  double max_budget = 0;
  double spend = 0;
  std::vector<LlmKey> keys;  ///< every key LiteLLM holds for the user, the stored one first

  EdgeCase edge_cases = EdgeCase::none;

  /// What migration must carry over to the org team: max_budget - spend, never negative.
  double remaining_credits() const { return max_budget > spend ? max_budget - spend : 0.0; }
};

struct WorldSpec {
  std::uint64_t seed = 0;
  int users = 1000;
};

/// The fixture world: a pure function of its spec.
struct World {
  WorldSpec spec;
  std::vector<LegacyUser> users;

  /// A fingerprint of every field of every user; equal specs give equal digests.
  std::string digest() const;
  /// How many users carry `flag`.
  int count(EdgeCase flag) const;
};

/// Generates the world of `spec`. Every draw comes from spec.seed; each edge
/// case appears at least once when there are enough users for all of them.
World generate(const WorldSpec& spec);

}  // namespace orgquake::world
