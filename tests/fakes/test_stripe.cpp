#include <set>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tests/fakes/stripe_fixture.hpp"

using namespace orgquake::fakes;
using namespace orgquake::fakes::test;

BOOST_AUTO_TEST_SUITE(stripe, *boost::unit_test::label("fakes"))

BOOST_FIXTURE_TEST_CASE(customer_crud_with_stripe_shapes, StripeFixture) {
  TestClient c = client();
  Reply created =
      c.post("/v1/customers",
             "email=a%40example.com&name=Ann&metadata[user_id]=u1&metadata[plan]=pro", auth);
  BOOST_TEST(created.status == 200);
  const auto cus = created.json();
  const std::string id = cus["id"];
  BOOST_TEST(id.rfind("cus_", 0) == 0);
  BOOST_TEST(cus["object"] == "customer");
  BOOST_TEST(cus["livemode"] == false);
  BOOST_TEST(cus["created"] == clock->now_s());
  BOOST_TEST(cus["email"] == "a@example.com");
  BOOST_TEST(cus["metadata"]["user_id"] == "u1");
  BOOST_TEST(!created.header("Request-Id").empty());

  Reply got = c.get("/v1/customers/" + id, auth);
  BOOST_TEST(got.status == 200);
  BOOST_TEST(got.json()["name"] == "Ann");

  // Metadata merges; an empty value deletes a key.
  Reply updated =
      c.post("/v1/customers/" + id, "metadata[org_id]=o1&metadata[user_id]=&email=b%40x.io", auth);
  BOOST_TEST(updated.status == 200);
  const auto meta = updated.json()["metadata"];
  BOOST_TEST(meta["org_id"] == "o1");
  BOOST_TEST(meta["plan"] == "pro");
  BOOST_TEST(!meta.contains("user_id"));
  BOOST_TEST(updated.json()["email"] == "b@x.io");

  Reply deleted = c.del("/v1/customers/" + id, auth);
  BOOST_TEST(deleted.status == 200);
  BOOST_TEST(deleted.json()["deleted"] == true);
  BOOST_TEST(c.get("/v1/customers/" + id, auth).json()["deleted"] == true);
  Reply gone = c.post("/v1/customers/" + id, "name=x", auth);
  BOOST_TEST(gone.status == 404);
  BOOST_TEST(gone.json()["error"]["code"] == "resource_missing");
  BOOST_TEST(c.del("/v1/customers/" + id, auth).status == 404);
}

BOOST_FIXTURE_TEST_CASE(customer_list_paginates_and_filters, StripeFixture) {
  TestClient c = client();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    const std::string email = i % 2 == 0 ? "even%40x.io" : "odd%40x.io";
    ids.push_back(c.post("/v1/customers", "email=" + email, auth).json()["id"]);
  }
  auto page1 = c.get("/v1/customers?limit=2", auth).json();
  BOOST_TEST(page1["object"] == "list");
  BOOST_TEST(page1["url"] == "/v1/customers");
  BOOST_TEST(page1["has_more"] == true);
  BOOST_TEST(page1["data"].size() == 2u);
  BOOST_TEST(page1["data"][0]["id"] == ids[4]);  // newest first
  auto page3 = c.get("/v1/customers?limit=2&starting_after=" + ids[1], auth).json();
  BOOST_TEST(page3["data"].size() == 1u);
  BOOST_TEST(page3["data"][0]["id"] == ids[0]);
  BOOST_TEST(page3["has_more"] == false);
  auto even = c.get("/v1/customers?email=even%40x.io", auth).json();
  BOOST_TEST(even["data"].size() == 3u);
  BOOST_TEST(c.get("/v1/customers?limit=101", auth).status == 400);
  BOOST_TEST(c.get("/v1/customers?limit=abc", auth).json()["error"]["param"] == "limit");
  BOOST_TEST(c.get("/v1/customers?starting_after=cus_nope", auth).status == 400);
}

BOOST_FIXTURE_TEST_CASE(search_matches_grammar_and_lags_writes, StripeFixture) {
  stripe.set_search_lag_ms(2000);
  TestClient c = client();
  const std::string id =
      c.post("/v1/customers", "email=z%40x.io&metadata[org_id]=o-9&metadata[user_id]=u-9", auth)
          .json()["id"];
  const std::string q =
      "/v1/customers/search?query=" + url_encode("metadata['org_id']:'o-9' AND email:\"Z@x.io\"");
  auto hidden = c.get(q, auth).json();
  BOOST_TEST(hidden["object"] == "search_result");
  BOOST_TEST(hidden["data"].empty());                            // the index has not caught up yet
  BOOST_TEST(c.get("/v1/customers/" + id, auth).status == 200);  // but retrieve sees it
  clock->advance_ms(2000);
  auto found = c.get(q, auth).json();
  BOOST_TEST(found["data"].size() == 1u);
  BOOST_TEST(found["data"][0]["id"] == id);
  BOOST_TEST(found["url"] == "/v1/customers/search");

  // An update is also invisible to search until the lag has passed.
  c.post("/v1/customers/" + id, "metadata[org_id]=o-10", auth);
  BOOST_TEST(c.get(q, auth).json()["data"].size() == 1u);
  clock->advance_ms(2000);
  BOOST_TEST(c.get(q, auth).json()["data"].empty());

  auto bad = c.get("/v1/customers/search?query=" + url_encode("metadata['a']:'b' AND"), auth);
  BOOST_TEST(bad.status == 400);
  BOOST_TEST(bad.json()["error"]["param"] == "query");
  BOOST_TEST(c.get("/v1/customers/search?query=" + url_encode("foo:'x'"), auth).status == 400);
  BOOST_TEST(c.get("/v1/customers/search", auth).json()["error"]["code"] == "parameter_missing");
  auto mixed =
      c.get("/v1/customers/search?query=" + url_encode("email:'a' AND name:'b' OR name:'c'"), auth);
  BOOST_TEST(mixed.status == 400);
}

BOOST_FIXTURE_TEST_CASE(search_paginates, StripeFixture) {
  TestClient c = client();
  for (int i = 0; i < 3; ++i) c.post("/v1/customers", "metadata[k]=v", auth);
  const std::string q = "/v1/customers/search?limit=2&query=" + url_encode("metadata['k']:'v'");
  auto first = c.get(q, auth).json();
  BOOST_TEST(first["data"].size() == 2u);
  BOOST_TEST(first["has_more"] == true);
  auto second = c.get(q + "&page=" + first["next_page"].get<std::string>(), auth).json();
  BOOST_TEST(second["data"].size() == 1u);
  BOOST_TEST(second["has_more"] == false);
  BOOST_TEST(second["next_page"].is_null());
}

BOOST_FIXTURE_TEST_CASE(auth_is_enforced, StripeFixture) {
  TestClient c = client();
  Reply none = c.get("/v1/customers");
  BOOST_TEST(none.status == 401);
  BOOST_TEST(none.json()["error"]["type"] == "invalid_request_error");
  Reply wrong = c.get("/v1/customers", {{"Authorization", "Bearer sk_test_wrong_key_123"}});
  BOOST_TEST(wrong.status == 401);
  BOOST_TEST(wrong.json()["error"]["message"].get<std::string>().find("Invalid API Key") == 0u);
  // Basic auth with the key as the user name, as curl -u sk_test_...: sends it.
  Reply basic = c.get("/v1/customers", {{"Authorization", "Basic c2tfdGVzdF9vcmdxdWFrZTo="}});
  BOOST_TEST(basic.status == 200);
  BOOST_TEST(stripe.customers().empty());
}

BOOST_FIXTURE_TEST_CASE(bad_input_gets_stripe_errors, StripeFixture) {
  TestClient c = client();
  Reply unknown_route = c.get("/v1/charges", auth);
  BOOST_TEST(unknown_route.status == 404);
  BOOST_TEST(unknown_route.json()["error"]["message"].get<std::string>().find(
                 "Unrecognized request URL") == 0u);
  BOOST_TEST(c.request(http::verb::put, "/v1/customers", "", auth).status == 404);
  BOOST_TEST(c.get("/v1/customers/cus_missing", auth).status == 404);
  Reply unknown_param = c.post("/v1/customers", "emial=x", auth);
  BOOST_TEST(unknown_param.status == 400);
  BOOST_TEST(unknown_param.json()["error"]["param"] == "emial");
  BOOST_TEST(c.post("/v1/customers", "email=%ZZ", auth).status == 400);
  BOOST_TEST(c.post("/v1/customers", "metadata[a=1", auth).status == 400);
  BOOST_TEST(c.post("/v1/customers", "metadata=1&metadata[a]=2", auth).status == 400);
  Reply json =
      c.post("/v1/customers", "{\"email\": ",
             {{"Authorization", "Bearer sk_test_orgquake"}, {"Content-Type", "application/json"}});
  BOOST_TEST(json.status == 400);
  BOOST_TEST(json.json()["error"]["type"] == "invalid_request_error");
  BOOST_TEST(stripe.customers().empty());
  BOOST_TEST(c.get("/v1/customers", auth).status == 200);  // still serving
}

BOOST_FIXTURE_TEST_CASE(idempotent_replay_and_mismatch, StripeFixture) {
  TestClient c = client();
  Reply first = c.post("/v1/customers", "email=i%40x.io&metadata[org_id]=o1", with_key("k1"));
  // Same parameters in another order: the same request.
  Reply again = c.post("/v1/customers", "metadata[org_id]=o1&email=i%40x.io", with_key("k1"));
  BOOST_TEST(first.status == 200);
  BOOST_TEST(again.status == 200);
  BOOST_TEST(again.body == first.body);
  BOOST_TEST(again.header("Idempotent-Replayed") == "true");
  BOOST_TEST(stripe.customers().size() == 1u);

  Reply mismatch = c.post("/v1/customers", "email=other%40x.io", with_key("k1"));
  BOOST_TEST(mismatch.status == 400);
  BOOST_TEST(mismatch.json()["error"]["type"] == "idempotency_error");
  BOOST_TEST(c.post("/v1/customers/" + first.json()["id"].get<std::string>(), "name=x",
                    with_key("k1"))
                 .status == 400);  // same key, another endpoint

  // Validation errors are not stored: the same key then works with good params.
  BOOST_TEST(c.post("/v1/customers", "bogus=1", with_key("k2")).status == 400);
  BOOST_TEST(c.post("/v1/customers", "email=k2%40x.io", with_key("k2")).status == 200);
  BOOST_TEST(stripe.customers().size() == 2u);

  // Keys expire after 24 hours of the fake's clock.
  clock->advance_ms(24LL * 3600 * 1000);
  Reply later = c.post("/v1/customers", "email=i%40x.io&metadata[org_id]=o1", with_key("k1"));
  BOOST_TEST(later.status == 200);
  BOOST_TEST(later.json()["id"] != first.json()["id"]);
  BOOST_TEST(stripe.customers().size() == 3u);

  const Ledger ledger = stripe.ledger();
  BOOST_TEST(ledger.requests()[1].replayed);
  BOOST_TEST(ledger.requests()[1].idempotency_key == "k1");
  BOOST_TEST(!ledger.requests()[1].applied);
  BOOST_TEST(ledger.created_ids("customer").size() == 3u);
}

BOOST_FIXTURE_TEST_CASE(hundred_concurrent_creates_with_one_key_make_one_customer, StripeFixture) {
  // The first request is slowed down, so that others arrive while it is in
  // flight and must get 409 rather than a second customer.
  stripe.add_fault(
      FaultSpec{"POST", "/v1/customers", FaultKind::delay, 503, 50, 0, {1, 0, 1.0, 0}});
  std::vector<Reply> replies(100);
  std::vector<std::thread> threads;
  for (int i = 0; i < 100; ++i) {
    threads.emplace_back([&, i] {
      TestClient c(stripe.port());
      replies[i] = c.post("/v1/customers", "email=race%40x.io", with_key("race-key"));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ids;
  for (const Reply& r : replies) {
    BOOST_TEST_REQUIRE((r.status == 200 || r.status == 409));
    if (r.status == 200) ids.insert(r.json()["id"].get<std::string>());
    if (r.status == 409) BOOST_TEST(r.json()["error"]["code"] == "idempotency_key_in_use");
  }
  BOOST_TEST(ids.size() == 1u);
  BOOST_TEST(stripe.customers().size() == 1u);
  BOOST_TEST(stripe.ledger().created_ids("customer").size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(concurrent_creates_with_one_key_all_see_the_same_customer, StripeFixture) {
  std::vector<Reply> replies(100);
  std::vector<std::thread> threads;
  for (int i = 0; i < 100; ++i) {
    threads.emplace_back([&, i] {
      TestClient c(stripe.port());
      replies[i] = c.post("/v1/customers", "email=same%40x.io", with_key("same-key"));
    });
  }
  for (auto& t : threads) t.join();
  std::set<std::string> ids;
  for (const Reply& r : replies) {
    BOOST_TEST_REQUIRE(r.status == 200);
    ids.insert(r.json()["id"].get<std::string>());
  }
  BOOST_TEST(ids.size() == 1u);
  BOOST_TEST(stripe.customers().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(two_hundred_connections_open_at_once, StripeFixture) {
  std::vector<std::unique_ptr<TestClient>> clients;
  for (int i = 0; i < 200; ++i) {
    clients.push_back(std::make_unique<TestClient>(stripe.port()));
    BOOST_TEST_REQUIRE(clients.back()->get("/v1/customers?limit=1", auth).status == 200);
  }
  // Every connection is still open and still served.
  for (auto& c : clients) BOOST_TEST_REQUIRE(c->get("/v1/customers?limit=1", auth).status == 200);
  std::set<std::uint64_t> connections;
  const Ledger ledger = stripe.ledger();
  for (const auto& r : ledger.requests()) connections.insert(r.connection_id);
  BOOST_TEST(connections.size() == 200u);
}

BOOST_AUTO_TEST_CASE(a_stopped_fake_can_start_again) {
  StripeFake stripe(ServerOptions{}, StripeOptions{}, 1, std::make_shared<ManualClock>());
  stripe.start();
  stripe.stop();
  stripe.start();
  TestClient c(stripe.port());
  BOOST_TEST(c.get("/v1/customers", {{"Authorization", "Bearer sk_test_orgquake"}}).status == 200);
}

BOOST_FIXTURE_TEST_CASE(subscriptions_and_invoices, StripeFixture) {
  TestClient c = client();
  const std::string cus = c.post("/v1/customers", "email=s%40x.io", auth).json()["id"];
  Reply sub = c.post("/v1/subscriptions",
                     "customer=" + cus + "&items[0][price]=price_pro&metadata[user_id]=u1", auth);
  BOOST_TEST(sub.status == 200);
  const auto s = sub.json();
  const std::string sub_id = s["id"];
  BOOST_TEST(sub_id.rfind("sub_", 0) == 0);
  BOOST_TEST(s["object"] == "subscription");
  BOOST_TEST(s["status"] == "active");
  BOOST_TEST(s["items"]["data"][0]["price"]["id"] == "price_pro");
  BOOST_TEST(s["customer"] == cus);

  Reply missing_items = c.post("/v1/subscriptions", "customer=" + cus, auth);
  BOOST_TEST(missing_items.status == 400);
  BOOST_TEST(missing_items.json()["error"]["param"] == "items");
  Reply missing_customer = c.post("/v1/subscriptions", "customer=cus_nope&items[0][price]=p", auth);
  BOOST_TEST(missing_customer.status == 400);
  BOOST_TEST(missing_customer.json()["error"]["code"] == "resource_missing");
  BOOST_TEST(
      c.post("/v1/subscriptions", "customer=" + cus + "&items[0][quantity]=1", auth).status == 400);

  Reply moved =
      c.post("/v1/subscriptions/" + sub_id, "metadata[org_id]=o1&metadata[user_id]=", auth);
  BOOST_TEST(moved.json()["metadata"] == nlohmann::json({{"org_id", "o1"}}));
  BOOST_TEST(c.get("/v1/subscriptions/" + sub_id, auth).json()["metadata"]["org_id"] == "o1");
  BOOST_TEST(c.get("/v1/subscriptions/sub_nope", auth).status == 404);
  auto list = c.get("/v1/subscriptions?customer=" + cus, auth).json();
  BOOST_TEST(list["data"].size() == 1u);
  BOOST_TEST(c.get("/v1/subscriptions?customer=cus_other", auth).json()["data"].empty());
  BOOST_TEST(c.del("/v1/subscriptions/" + sub_id, auth).json()["status"] == "canceled");
  BOOST_TEST(c.get("/v1/subscriptions?customer=" + cus, auth).json()["data"].empty());
  BOOST_TEST(c.get("/v1/subscriptions?status=all&customer=" + cus, auth).json()["data"].size() ==
             1u);

  Reply inv = c.post("/v1/invoices", "customer=" + cus + "&metadata[reason]=test", auth);
  BOOST_TEST(inv.status == 200);
  BOOST_TEST(inv.json()["id"].get<std::string>().rfind("in_", 0) == 0);
  BOOST_TEST(inv.json()["object"] == "invoice");
  c.post("/v1/invoices", "customer=" + cus, auth);
  BOOST_TEST(c.get("/v1/invoices?customer=" + cus, auth).json()["data"].size() == 2u);
  BOOST_TEST(c.post("/v1/invoices", "customer=cus_nope", auth).status == 400);
  BOOST_TEST(c.post("/v1/invoices", "", auth).json()["error"]["code"] == "parameter_missing");
  BOOST_TEST(stripe.invoices().size() == 2u);
}

BOOST_AUTO_TEST_CASE(ids_are_deterministic_from_the_seed) {
  auto run = [](std::uint64_t seed) {
    StripeFake stripe(ServerOptions{}, StripeOptions{}, seed, std::make_shared<ManualClock>());
    stripe.start();
    TestClient c(stripe.port());
    std::vector<std::string> ids;
    for (int i = 0; i < 3; ++i) {
      ids.push_back(
          c.post("/v1/customers", "name=n", {{"Authorization", "Bearer sk_test_orgquake"}})
              .json()["id"]);
    }
    return ids;
  };
  BOOST_TEST(run(7) == run(7));
  BOOST_TEST(run(7) != run(8));
}

BOOST_FIXTURE_TEST_CASE(many_keep_alive_clients_in_parallel, StripeFixture) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      TestClient c(stripe.port());
      for (int i = 0; i < 25; ++i) {
        if (c.post("/v1/customers", "name=p", auth).status == 200) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  BOOST_TEST(ok.load() == 400);
  BOOST_TEST(stripe.customers().size() == 400u);
  // One connection per client: keep-alive held.
  std::set<std::uint64_t> connections;
  const Ledger ledger = stripe.ledger();
  for (const auto& r : ledger.requests()) connections.insert(r.connection_id);
  BOOST_TEST(connections.size() == 16u);
}

BOOST_AUTO_TEST_SUITE_END()
