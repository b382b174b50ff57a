#include <sstream>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "core/error.hpp"
#include "fakes/litellm_fake.hpp"
#include "fakes/standalone.hpp"
#include "tests/fakes/stripe_fixture.hpp"

using namespace orgquake::fakes;
using namespace orgquake::fakes::test;
using nlohmann::json;

namespace {

FaultSpec fault(std::string method, std::string path, FaultKind kind) {
  FaultSpec spec;
  spec.method = std::move(method);
  spec.path = std::move(path);
  spec.kind = kind;
  return spec;
}

/// Waits (bounded) for a condition the server reaches on its own schedule.
template <class F>
bool eventually(F condition) {
  for (int i = 0; i < 500; ++i) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(faults, *boost::unit_test::label("fakes"))

BOOST_AUTO_TEST_CASE(path_globs) {
  BOOST_TEST(path_matches("/v1/customers", "/v1/customers"));
  BOOST_TEST(path_matches("/v1/customers/*", "/v1/customers/cus_1"));
  BOOST_TEST(!path_matches("/v1/customers/*", "/v1/customers"));
  BOOST_TEST(!path_matches("/v1/*", "/v1/customers/cus_1"));
  BOOST_TEST(path_matches("/v1/**", "/v1/customers/cus_1"));
  BOOST_TEST(path_matches("**", "/anything/at/all"));
  BOOST_TEST(path_matches("/team/*_add", "/team/member_add"));
}

BOOST_FIXTURE_TEST_CASE(status_before_applying, StripeFixture) {
  auto spec = fault("POST", "/v1/customers", FaultKind::status);
  spec.status = 503;
  stripe.add_fault(spec);
  TestClient c = client();
  Reply r = c.post("/v1/customers", "name=x", auth);
  BOOST_TEST(r.status == 503);
  BOOST_TEST(r.json()["error"]["type"] == "api_error");
  BOOST_TEST(stripe.customers().empty());
  BOOST_TEST(c.get("/v1/customers", auth).status == 200);  // other routes untouched
  const Ledger ledger = stripe.ledger();
  BOOST_TEST(ledger.requests()[0].fault == "status");
  BOOST_TEST(!ledger.requests()[0].applied);
  BOOST_TEST(ledger.faults().size() == 1u);
  BOOST_TEST(ledger.faults()[0].request_seq == 1u);
}

BOOST_FIXTURE_TEST_CASE(delay_then_apply, StripeFixture) {
  auto spec = fault("POST", "/v1/customers", FaultKind::delay);
  spec.delay_ms = 30;
  stripe.add_fault(spec);
  TestClient c = client();
  BOOST_TEST(c.post("/v1/customers", "name=x", auth).status == 200);
  BOOST_TEST(stripe.customers().size() == 1u);
  BOOST_TEST(stripe.ledger().requests()[0].fault == "delay");
}

BOOST_FIXTURE_TEST_CASE(a_slow_request_still_applies_after_the_client_gave_up, StripeFixture) {
  auto spec = fault("POST", "/v1/customers", FaultKind::delay);
  spec.delay_ms = 300;
  stripe.add_fault(spec);
  TestClient impatient(stripe.port(), std::chrono::milliseconds(50));
  Reply r = impatient.post("/v1/customers", "name=x", with_key("slow"));
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.error == "timeout");
  // Meanwhile a retry with the same key finds the first still in flight.
  stripe.clear_faults();
  TestClient c = client();
  Reply retry = c.post("/v1/customers", "name=x", with_key("slow"));
  BOOST_TEST((retry.status == 409 || retry.status == 200));
  BOOST_TEST(eventually([&] { return stripe.customers().size() == 1u; }));
  BOOST_TEST(eventually([&] { return stripe.ledger().requests()[0].outcome == "lost"; }));
  Reply later = c.post("/v1/customers", "name=x", with_key("slow"));
  BOOST_TEST(later.status == 200);
  BOOST_TEST(later.json()["id"] == stripe.customers()[0].id);
}

BOOST_FIXTURE_TEST_CASE(hold_never_answers_and_never_applies, StripeFixture) {
  stripe.add_fault(fault("POST", "/v1/customers", FaultKind::hold));
  TestClient c(stripe.port(), std::chrono::milliseconds(200));
  Reply r = c.post("/v1/customers", "name=x", auth);
  BOOST_TEST(r.status == 0);
  BOOST_TEST(r.error == "timeout");
  BOOST_TEST(stripe.customers().empty());
  BOOST_TEST(stripe.ledger().requests()[0].outcome == "held");
}

BOOST_FIXTURE_TEST_CASE(reset_before_applying, StripeFixture) {
  stripe.add_fault(fault("POST", "/v1/customers", FaultKind::reset));
  TestClient c = client();
  Reply r = c.post("/v1/customers", "name=x", auth);
  BOOST_TEST(r.status == 0);
  BOOST_TEST((r.error == "reset" || r.error == "eof"));
  BOOST_TEST(stripe.customers().empty());
  BOOST_TEST(stripe.ledger().requests()[0].outcome == "reset");
}

BOOST_FIXTURE_TEST_CASE(apply_then_reset_loses_the_response, StripeFixture) {
  stripe.add_fault(fault("POST", "/v1/customers", FaultKind::apply_then_reset));
  TestClient c = client();
  Reply r = c.post("/v1/customers", "name=x", with_key("k"));
  BOOST_TEST(r.status == 0);
  BOOST_TEST(stripe.customers().size() == 1u);
  const Ledger ledger = stripe.ledger();
  BOOST_TEST(ledger.requests()[0].applied);
  BOOST_TEST(ledger.requests()[0].outcome == "reset");
  // The retry with the same key gets the stored answer, not a second customer.
  stripe.clear_faults();
  Reply retry = c.post("/v1/customers", "name=x", with_key("k"));
  BOOST_TEST(retry.status == 200);
  BOOST_TEST(retry.header("Idempotent-Replayed") == "true");
  BOOST_TEST(stripe.customers().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(apply_then_500, StripeFixture) {
  stripe.add_fault(fault("POST", "/v1/customers", FaultKind::apply_then_500));
  TestClient c = client();
  Reply r = c.post("/v1/customers", "name=x", auth);
  BOOST_TEST(r.status == 500);
  BOOST_TEST(r.json()["error"]["type"] == "api_error");
  BOOST_TEST(stripe.customers().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(apply_then_hold, StripeFixture) {
  stripe.add_fault(fault("POST", "/v1/customers", FaultKind::apply_then_hold));
  TestClient c(stripe.port(), std::chrono::milliseconds(200));
  BOOST_TEST(c.post("/v1/customers", "name=x", auth).error == "timeout");
  BOOST_TEST(stripe.customers().size() == 1u);
}

BOOST_FIXTURE_TEST_CASE(first_n_every_k_and_times, StripeFixture) {
  auto first = fault("GET", "/v1/customers", FaultKind::status);
  first.trigger.first = 2;
  stripe.add_fault(first);
  TestClient c = client();
  std::vector<int> statuses;
  for (int i = 0; i < 4; ++i) statuses.push_back(c.get("/v1/customers", auth).status);
  BOOST_TEST(statuses == (std::vector<int>{503, 503, 200, 200}));

  stripe.clear_faults();
  auto every = fault("GET", "/v1/customers", FaultKind::status);
  every.trigger.every = 3;
  every.trigger.times = 2;
  stripe.add_fault(every);
  statuses.clear();
  for (int i = 0; i < 10; ++i) statuses.push_back(c.get("/v1/customers", auth).status);
  BOOST_TEST(statuses == (std::vector<int>{200, 200, 503, 200, 200, 503, 200, 200, 200, 200}));
  BOOST_TEST(stripe.faults()[0].matched == 10u);
  BOOST_TEST(stripe.faults()[0].fired == 2u);
}

BOOST_AUTO_TEST_CASE(probability_draws_from_the_seed) {
  auto run = [](std::uint64_t seed) {
    StripeFake stripe(ServerOptions{}, StripeOptions{}, seed, std::make_shared<ManualClock>());
    stripe.start();
    auto spec = fault("*", "/v1/**", FaultKind::status);
    spec.trigger.probability = 0.5;
    stripe.add_fault(spec);
    TestClient c(stripe.port());
    std::string pattern;
    for (int i = 0; i < 40; ++i) {
      pattern +=
          c.get("/v1/customers", {{"Authorization", "Bearer sk_test_orgquake"}}).status == 503
              ? 'x'
              : '.';
    }
    return pattern;
  };
  const std::string a = run(11);
  BOOST_TEST(a == run(11));
  BOOST_TEST(a != run(12));
  BOOST_TEST(a.find('x') != std::string::npos);
  BOOST_TEST(a.find('.') != std::string::npos);
}

// A probability draw belongs to the request it is for (its target, body and
// how many such requests came before), not to its place among all requests:
// leaving one customer's requests out, as a shrunk replay does, changes
// nothing for the others'.
BOOST_AUTO_TEST_CASE(probability_draws_follow_the_request_not_its_place) {
  auto run = [](const std::vector<std::string>& customers) {
    StripeFake stripe(ServerOptions{}, StripeOptions{}, 11, std::make_shared<ManualClock>());
    stripe.start();
    auto spec = fault("GET", "/v1/customers/*", FaultKind::status);
    spec.trigger.probability = 0.5;
    stripe.add_fault(spec);
    TestClient c(stripe.port());
    std::map<std::string, std::string> pattern;
    for (int round = 0; round < 12; ++round) {
      for (const auto& customer : customers) {
        const auto status =
            c.get("/v1/customers/" + customer, {{"Authorization", "Bearer sk_test_orgquake"}})
                .status;
        pattern[customer] += status == 503 ? 'x' : '.';
      }
    }
    return pattern;
  };
  const auto all = run({"cus_a", "cus_b", "cus_c"});
  const auto without_b = run({"cus_a", "cus_c"});
  BOOST_TEST(all.at("cus_a") == without_b.at("cus_a"));
  BOOST_TEST(all.at("cus_c") == without_b.at("cus_c"));
  BOOST_TEST(all.at("cus_a") != all.at("cus_c"), "two customers drew alike");
}

// A fault scoped to an operation meets only requests that name it in the
// Orgquake-Operation header, and its `first` counts that operation's
// requests alone: other operations' requests in between move nothing. A
// request that names no operation, or a malformed one, meets none.
BOOST_AUTO_TEST_CASE(a_fault_scoped_to_an_operation_counts_its_requests_alone) {
  auto run = [](bool others_in_between) {
    StripeFake stripe(ServerOptions{}, StripeOptions{}, 11, std::make_shared<ManualClock>());
    stripe.start();
    auto spec = fault("GET", "/v1/customers/*", FaultKind::status);
    spec.trigger.first = 2;
    spec.operation = 7;
    stripe.add_fault(spec);
    TestClient c(stripe.port());
    const auto get = [&](const std::string& op) {
      std::map<std::string, std::string> headers = {{"Authorization", "Bearer sk_test_orgquake"}};
      if (!op.empty()) headers["Orgquake-Operation"] = op;
      return c.get("/v1/customers/cus_a", headers).status == 503 ? 'x' : '.';
    };
    std::string seven, others;
    for (int i = 0; i < 4; ++i) {
      if (others_in_between) {
        others += get("8");
        others += get("");
        others += get("7x");
      }
      seven += get("7");
    }
    return std::make_pair(seven, others);
  };
  const auto [alone, _] = run(false);
  const auto [among, others] = run(true);
  BOOST_TEST(alone == "xx..");
  BOOST_TEST(among == alone);
  BOOST_TEST(others == std::string(12, '.'));
  // The spec carries its scope through JSON (what the plan and repro keep).
  auto spec = fault("POST", "/team/new", FaultKind::status);
  spec.operation = 12;
  BOOST_TEST(fault_spec_from_json(to_json(spec)).operation.value() == 12);
  BOOST_CHECK_THROW(fault_spec_from_json({{"kind", "status"}, {"operation", -1}}),
                    orgquake::UsageError);
}

BOOST_FIXTURE_TEST_CASE(search_lag_fault, StripeFixture) {
  TestClient c = client();
  c.post("/v1/customers", "metadata[org_id]=o1", auth);
  auto lag = fault("GET", "/v1/customers/search", FaultKind::search_lag);
  lag.lag_ms = 60'000;
  const auto id = stripe.add_fault(lag);
  const std::string q = "/v1/customers/search?query=" + url_encode("metadata['org_id']:'o1'");
  BOOST_TEST(c.get(q, auth).json()["data"].empty());
  stripe.remove_fault(id);
  BOOST_TEST(c.get(q, auth).json()["data"].size() == 1u);
  BOOST_TEST(stripe.ledger().faults()[0].kind == "search_lag");
}

BOOST_FIXTURE_TEST_CASE(routes_and_methods_select_requests, StripeFixture) {
  stripe.add_fault(fault("GET", "/v1/customers/*", FaultKind::status));
  TestClient c = client();
  const std::string id = c.post("/v1/customers", "name=x", auth).json()["id"];
  BOOST_TEST(c.get("/v1/customers/" + id, auth).status == 503);
  BOOST_TEST(c.post("/v1/customers/" + id, "name=y", auth).status == 200);
  BOOST_TEST(c.get("/v1/customers", auth).status == 200);
}

BOOST_FIXTURE_TEST_CASE(admin_endpoint_installs_lists_and_removes, StripeFixture) {
  TestClient c = client();
  Reply added =
      c.post("/__orgquake/faults",
             R"([{"method":"POST","path":"/v1/customers","kind":"status","status":429,"first":1},
                           {"path":"/v1/invoices","kind":"delay","delay_ms":1}])",
             {{"Content-Type", "application/json"}});
  BOOST_TEST(added.status == 200);
  BOOST_TEST(added.json()["ids"].size() == 2u);
  BOOST_TEST(c.post("/v1/customers", "name=x", auth).status == 429);
  auto listed = c.get("/__orgquake/faults").json()["faults"];
  BOOST_TEST(listed.size() == 2u);
  BOOST_TEST(listed[0]["fired"] == 1);
  BOOST_TEST(listed[0]["kind"] == "status");

  BOOST_TEST(c.post("/__orgquake/faults", R"({"kind":"explode"})").status == 400);
  BOOST_TEST(c.post("/__orgquake/faults", R"({"kind":"status","colour":"red"})").status == 400);
  BOOST_TEST(c.post("/__orgquake/faults", R"({"kind":"status","probability":2})").status == 400);
  BOOST_TEST(c.post("/__orgquake/faults", "{not json").status == 400);
  BOOST_TEST(stripe.faults().size() == 2u);  // a bad spec installs nothing

  const auto id = listed[1]["id"].get<int>();
  BOOST_TEST(c.del("/__orgquake/faults/" + std::to_string(id)).status == 200);
  BOOST_TEST(c.del("/__orgquake/faults/" + std::to_string(id)).status == 404);
  BOOST_TEST(c.del("/__orgquake/faults").status == 200);
  BOOST_TEST(stripe.faults().empty());

  auto ledger = c.get("/__orgquake/ledger").json();
  BOOST_TEST(ledger["requests"].size() == 1u);  // admin calls are not recorded
  BOOST_TEST(ledger["requests"][0]["status"] == 429);
  BOOST_TEST(ledger["requests"][0]["fault"] == "status");
  BOOST_TEST(ledger["faults"].size() == 1u);
  BOOST_TEST(c.get("/__orgquake/nothing").status == 404);
  BOOST_TEST(c.get("/__orgquake/ledger?since=1").json()["requests"].empty());
  BOOST_TEST(c.get("/__orgquake/ledger?since=x").status == 400);
}

BOOST_AUTO_TEST_CASE(stop_abandons_delayed_requests) {
  auto clock = std::make_shared<ManualClock>();
  StripeFake stripe(ServerOptions{}, StripeOptions{}, 1, clock);
  stripe.start();
  auto spec = fault("POST", "/v1/customers", FaultKind::delay);
  spec.delay_ms = 600'000;
  stripe.add_fault(spec);
  TestClient c(stripe.port(), std::chrono::milliseconds(100));
  BOOST_TEST(
      c.post("/v1/customers", "name=x", {{"Authorization", "Bearer sk_test_orgquake"}}).error ==
      "timeout");
  stripe.stop();  // must not wait ten minutes for the delay
  BOOST_TEST(stripe.customers().empty());
  BOOST_TEST(stripe.ledger().requests()[0].outcome == "abandoned");
}

BOOST_AUTO_TEST_CASE(faults_apply_to_litellm_too) {
  LitellmFake litellm(ServerOptions{}, LitellmOptions{}, 3, std::make_shared<ManualClock>());
  litellm.start();
  litellm.add_fault(fault("POST", "/team/new", FaultKind::apply_then_500));
  TestClient c(litellm.port());
  const std::map<std::string, std::string> headers{{"Authorization", "Bearer sk-orgquake-master"},
                                                   {"Content-Type", "application/json"}};
  Reply r = c.post("/team/new", R"({"team_id":"org-1","max_budget":5})", headers);
  BOOST_TEST(r.status == 500);
  BOOST_TEST(r.json()["error"]["code"] == "500");
  BOOST_TEST(litellm.team("org-1").has_value());
  litellm.clear_faults();
  Reply retry = c.post("/team/new", R"({"team_id":"org-1","max_budget":5})", headers);
  BOOST_TEST(retry.status == 400);
  BOOST_TEST(retry.body.find("already exists") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_a_clear_environment_error) {
  StripeFake first;
  first.start();
  ServerOptions same;
  same.port = first.port();
  StripeFake second(same);
  BOOST_CHECK_THROW(second.start(), orgquake::EnvironmentError);
  try {
    second.start();
  } catch (const orgquake::EnvironmentError& e) {
    BOOST_TEST(std::string(e.what()).find("cannot listen on 127.0.0.1:") != std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(standalone_rejects_bad_kinds_and_busy_ports) {
  std::ostringstream out;
  BOOST_CHECK_THROW(serve_standalone("paypal", 0, 1, out), orgquake::UsageError);
  StripeFake busy;
  busy.start();
  BOOST_CHECK_THROW(serve_standalone("litellm", busy.port(), 1, out), orgquake::EnvironmentError);
  BOOST_TEST(out.str().empty());  // nothing claimed to be listening
}

BOOST_AUTO_TEST_SUITE_END()
