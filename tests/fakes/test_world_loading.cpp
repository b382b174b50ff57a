#include <boost/test/unit_test.hpp>

#include "fakes/litellm_fake.hpp"
#include "fakes/stripe_fake.hpp"
#include "tests/fakes/http_test_client.hpp"
#include "world/load_fakes.hpp"

using namespace orgquake;
using namespace orgquake::fakes;
using namespace orgquake::fakes::test;

BOOST_AUTO_TEST_SUITE(world_loading, *boost::unit_test::label("fakes"))

BOOST_AUTO_TEST_CASE(fixture_world_is_consistent_on_both_fakes) {
  const world::World w = world::generate(world::WorldSpec{5, 60});
  auto clock = std::make_shared<ManualClock>();
  StripeOptions lagging;
  lagging.search_lag_ms = 5000;
  StripeFake stripe(ServerOptions{}, lagging, 5, clock);
  LitellmFake litellm(ServerOptions{}, LitellmOptions{}, 5, clock);
  stripe.start();
  litellm.start();
  load_world(stripe, w);
  load_world(litellm, w);

  TestClient sc(stripe.port());
  TestClient lc(litellm.port());
  const std::map<std::string, std::string> stripe_auth{
      {"Authorization", "Bearer sk_test_orgquake"}};
  const std::map<std::string, std::string> master{{"Authorization", "Bearer sk-orgquake-master"}};
  int customers = 0;
  int subscriptions = 0;
  for (const auto& user : w.users) {
    if (user.stripe_customer_id) {
      ++customers;
      Reply r = sc.get("/v1/customers/" + *user.stripe_customer_id, stripe_auth);
      BOOST_TEST_REQUIRE(r.status == 200);
      BOOST_TEST(r.json()["metadata"]["user_id"] == user.user_id);
      BOOST_TEST(r.json()["email"] == user.email);
      // Loaded before the run: search has caught up despite the lag.
      const std::string q =
          "/v1/customers/search?query=" + url_encode("metadata['user_id']:'" + user.user_id + "'");
      BOOST_TEST(sc.get(q, stripe_auth).json()["data"].size() == 1u);
    } else {
      BOOST_TEST(!user.stripe_subscription_id.has_value());
    }
    if (user.stripe_subscription_id) {
      ++subscriptions;
      auto s = sc.get("/v1/subscriptions?customer=" + *user.stripe_customer_id, stripe_auth).json();
      BOOST_TEST_REQUIRE(s["data"].size() == 1u);
      BOOST_TEST(s["data"][0]["id"] == *user.stripe_subscription_id);
      BOOST_TEST(s["data"][0]["metadata"]["user_id"] == user.user_id);
    }
    auto info = lc.get("/user/info?user_id=" + user.user_id, master).json();
    BOOST_TEST(info["user_info"]["max_budget"].get<double>() == user.max_budget);
    BOOST_TEST(info["user_info"]["spend"].get<double>() == user.spend);
    BOOST_TEST(info["keys"].size() == user.keys.size());
    for (const auto& key : user.keys) {
      const int status = lc.get("/v1/models", {{"Authorization", "Bearer " + key.key}}).status;
      BOOST_TEST(status == (key.blocked ? 401 : 200));
    }
  }
  BOOST_TEST(customers > 0);
  BOOST_TEST(stripe.customers().size() == static_cast<std::size_t>(customers));
  BOOST_TEST(stripe.subscriptions().size() == static_cast<std::size_t>(subscriptions));
  BOOST_TEST(litellm.users().size() == w.users.size());
  // Loading is not traffic: the ledger has the objects, not requests for them.
  const Ledger ledger = stripe.ledger();
  BOOST_TEST(ledger.created_ids("customer").size() == static_cast<std::size_t>(customers));
  BOOST_TEST(ledger.events("customer")[0].request_seq == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
