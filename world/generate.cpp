#include <array>
#include <numeric>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/random.hpp"
#include "world/world.hpp"

namespace orgquake::world {
namespace {

constexpr std::array kNamePrefixes{"amber", "brisk", "cedar", "delta", "ember", "fjord",
                                   "gale",  "haze",  "iris",  "juno",  "kite",  "lumen"};
constexpr std::array kNameSuffixes{"otter", "falcon", "maple", "quartz", "raven",  "sable",
                                   "tide",  "umber",  "vale",  "wren",   "yarrow", "zephyr"};
// Quotes of both kinds, an apostrophe, combining and precomposed accents, CJK
// and an emoji: everything that breaks naive quoting or byte-length limits.
constexpr std::array kAwkwardNames{"O'Brien \"Zoë\"", "Ünïcödé 'quoted' 東京", "d'Artagnan — 🚀",
                                   "Robert'); DROP TABLE org;--", "Zoe\u0308 \"the second\""};
constexpr std::array kModels{"gpt-4o", "claude-3-5-sonnet", "gemini-1.5-pro", "llama-3-70b"};
constexpr std::array kTitles{"Fix flaky test",         "Refactor billing",
                             "Add org settings page",  "Investigate memory leak",
                             "Write migration script", "Untitled"};

constexpr char kBase62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

template <typename Array>
const char* pick(Rng& rng, const Array& values) {
  return values[rng.below(values.size())];
}

std::string base62(Rng& rng, int length) {
  std::string out;
  out.reserve(length);
  for (int i = 0; i < length; ++i) out.push_back(kBase62[rng.below(62)]);
  return out;
}

std::string uuid_v4(Rng& rng) {
  std::uint64_t hi = rng.next(), lo = rng.next();
  hi = (hi & 0xffffffffffff0fffULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xffff,
                     hi & 0xffff, lo >> 48, lo & 0xffffffffffffULL);
}

double cents(Rng& rng, std::int64_t lo, std::int64_t hi) {
  return static_cast<double>(rng.between(lo, hi)) / 100.0;
}

// Probabilities of each edge case; `subscription` applies to users that have a customer.
struct EdgeCaseRate {
  EdgeCase flag;
  double probability;
};
constexpr std::array kRates{
    EdgeCaseRate{EdgeCase::no_stripe_customer, 0.05},
    EdgeCaseRate{EdgeCase::zero_budget, 0.05},
    EdgeCaseRate{EdgeCase::two_keys, 0.10},
    EdgeCaseRate{EdgeCase::expired_key, 0.05},
    EdgeCaseRate{EdgeCase::quoted_unicode_name, 0.02},
    EdgeCaseRate{EdgeCase::subscription, 0.30},
};

std::vector<EdgeCase> draw_edge_cases(Rng rng, int users) {
  std::vector<EdgeCase> flags(users, EdgeCase::none);
  for (auto& f : flags) {
    for (const auto& rate : kRates) {
      if (rng.chance(rate.probability)) f = f | rate.flag;
    }
  }
  // Every edge case at least once, each on its own user, so that a small
  // world still exercises all of them.
  if (users >= static_cast<int>(kRates.size())) {
    std::vector<int> order(users);
    std::iota(order.begin(), order.end(), 0);
    for (std::size_t i = 0; i < kRates.size(); ++i) {
      std::swap(order[i], order[i + rng.below(users - i)]);
      flags[order[i]] = flags[order[i]] | kRates[i].flag;
    }
  }
  // A user without a customer has no subscription to carry.
  for (auto& f : flags) {
    if (has(f, EdgeCase::no_stripe_customer) && has(f, EdgeCase::subscription)) {
      f = static_cast<EdgeCase>(static_cast<std::uint32_t>(f) &
                                ~static_cast<std::uint32_t>(EdgeCase::subscription));
    }
  }
  return flags;
}

LegacyUser make_user(Rng& rng, int index, EdgeCase flags) {
  LegacyUser user;
  user.edge_cases = flags;
  user.user_id = uuid_v4(rng);
  // The index suffix keeps usernames, and so personal org names, unique.
  if (has(flags, EdgeCase::quoted_unicode_name)) {
    user.username = fmt::format("{} #{}", pick(rng, kAwkwardNames), index);
  } else {
    user.username =
        fmt::format("{}_{}_{}", pick(rng, kNamePrefixes), pick(rng, kNameSuffixes), index);
  }
  user.email = fmt::format("user{}.{}@example.test", index, base62(rng, 6));
  user.llm_model = pick(rng, kModels);
  user.user_version = static_cast<int>(rng.between(1, 3));
  user.settings_json =
      nlohmann::json{
          {"language", rng.chance(0.8) ? "en" : "de"},
          {"confirmation_mode", rng.chance(0.3)},
          {"agent", "CodeActAgent"},
          {"max_iterations", rng.between(50, 500)},
      }
          .dump();

  const int conversations = static_cast<int>(rng.between(0, 5));
  for (int c = 0; c < conversations; ++c) {
    user.conversations.push_back({fmt::format("conv_{:016x}{:016x}", rng.next(), rng.next()),
                                  pick(rng, kTitles),
                                  1735689600 + rng.between(0, 365LL * 24 * 3600)});
  }

  if (!has(flags, EdgeCase::no_stripe_customer)) {
    user.stripe_customer_id = "cus_" + base62(rng, 14);
    if (has(flags, EdgeCase::subscription)) user.stripe_subscription_id = "sub_" + base62(rng, 14);
  }

  if (has(flags, EdgeCase::zero_budget)) {
    user.max_budget = 0;
    user.spend = 0;
  } else {
    user.max_budget = static_cast<double>(rng.between(1, 20) * 5);
    user.spend = cents(rng, 0, static_cast<std::int64_t>(user.max_budget * 100));
  }

  const int key_count = has(flags, EdgeCase::two_keys) ? 2 : 1;
  for (int k = 0; k < key_count; ++k) {
    user.keys.push_back({"sk-" + base62(rng, 22), fmt::format("key-{}-{}", index, k), false});
  }
  if (has(flags, EdgeCase::expired_key)) user.keys.front().blocked = true;
  user.llm_api_key = user.keys.front().key;
  return user;
}

}  // namespace

const std::vector<EdgeCaseInfo>& all_edge_cases() {
  static const std::vector<EdgeCaseInfo> cases{
      {EdgeCase::no_stripe_customer, "no_stripe_customer"},
      {EdgeCase::zero_budget, "zero_budget"},
      {EdgeCase::two_keys, "two_keys"},
      {EdgeCase::expired_key, "expired_key"},
      {EdgeCase::quoted_unicode_name, "quoted_unicode_name"},
      {EdgeCase::subscription, "subscription"},
  };
  return cases;
}

World generate(const WorldSpec& spec) {
  World world;
  world.spec = spec;
  const Rng root = Rng(spec.seed).derive("world");
  const auto flags = draw_edge_cases(root.derive("edge_cases"), spec.users);
  Rng users = root.derive("users");
  world.users.reserve(spec.users);
  for (int i = 0; i < spec.users; ++i) world.users.push_back(make_user(users, i, flags[i]));
  return world;
}

int World::count(EdgeCase flag) const {
  int n = 0;
  for (const auto& user : users) n += has(user.edge_cases, flag) ? 1 : 0;
  return n;
}

std::string World::digest() const {
  StableHash hash;
  hash.add(spec.seed).add(static_cast<std::uint64_t>(spec.users));
  for (const auto& u : users) {
    hash.add_field(u.user_id).add_field(u.username).add_field(u.email).add_field(u.llm_model);
    hash.add_field(u.llm_api_key.value_or("")).add(static_cast<std::uint64_t>(u.user_version));
    hash.add_field(u.settings_json);
    for (const auto& c : u.conversations) {
      hash.add_field(c.id).add_field(c.title).add(static_cast<std::uint64_t>(c.created_at_unix));
    }
    hash.add_field(u.stripe_customer_id.value_or(""))
        .add_field(u.stripe_subscription_id.value_or(""));
    hash.add_field(fmt::format("{:.2f}/{:.2f}", u.max_budget, u.spend));
    for (const auto& k : u.keys) hash.add_field(k.key).add_field(k.alias).add(k.blocked ? 1 : 0);
    hash.add(static_cast<std::uint64_t>(u.edge_cases));
  }
  return hash.hex();
}

}  // namespace orgquake::world
