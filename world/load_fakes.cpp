#include "world/load_fakes.hpp"

#include "fakes/litellm_fake.hpp"
#include "fakes/stripe_fake.hpp"

namespace orgquake::world {

using fakes::LitellmFake;
using fakes::LlmUser;
using fakes::LlmVirtualKey;
using fakes::StripeCustomer;
using fakes::StripeFake;
using fakes::StripeSubscription;
using fakes::StripeSubscriptionItem;

void load_world(StripeFake& stripe, const world::World& world) {
  for (const world::LegacyUser& user : world.users) {
    if (!user.stripe_customer_id) continue;
    StripeCustomer customer;
    customer.id = *user.stripe_customer_id;
    customer.email = user.email;
    customer.name = user.username;
    customer.metadata["user_id"] = user.user_id;
    stripe.load_customer(std::move(customer));
    if (!user.stripe_subscription_id) continue;
    StripeSubscription subscription;
    subscription.id = *user.stripe_subscription_id;
    subscription.customer = *user.stripe_customer_id;
    subscription.items.push_back(StripeSubscriptionItem{"", kFixturePrice, 1});
    subscription.metadata["user_id"] = user.user_id;
    stripe.load_subscription(std::move(subscription));
  }
}

void load_world(LitellmFake& litellm, const world::World& world) {
  for (const world::LegacyUser& user : world.users) {
    LlmUser llm_user;
    llm_user.user_id = user.user_id;
    llm_user.user_email = user.email;
    llm_user.max_budget = user.max_budget;
    llm_user.spend = user.spend;
    llm_user.models = {user.llm_model};
    litellm.load_user(std::move(llm_user));
    for (const world::LlmKey& k : user.keys) {
      LlmVirtualKey key;
      key.key = k.key;
      key.key_alias = k.alias;
      key.user_id = user.user_id;
      key.blocked = k.blocked;
      litellm.load_key(std::move(key));
    }
  }
}

}  // namespace orgquake::world
