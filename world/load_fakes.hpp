#pragma once

#include "world/world.hpp"

namespace orgquake::fakes {
class LitellmFake;
class StripeFake;
}  // namespace orgquake::fakes

namespace orgquake::world {

/// The price every fixture subscription is on; the fake accepts any price id.
inline constexpr const char* kFixturePrice = "price_orgquake_pro";

/// The Stripe side of the fixture world: for each legacy user with a
/// customer id, the customer (that id, the user's email, the username as
/// name, metadata user_id), and its subscription when the user has one
/// (metadata user_id, one item on kFixturePrice).
void load_world(fakes::StripeFake& stripe, const world::World& world);

/// The LiteLLM side: each user with max_budget and spend, and every key in
/// user.keys owned by the user (blocked ones blocked), stored key first.
void load_world(fakes::LitellmFake& litellm, const world::World& world);

}  // namespace orgquake::world
