#include <boost/test/unit_test.hpp>

#include "fakes/litellm_fake.hpp"
#include "fakes/sha256.hpp"
#include "tests/fakes/http_test_client.hpp"

using namespace orgquake::fakes;
using namespace orgquake::fakes::test;
using nlohmann::json;

namespace {

struct LitellmFixture {
  std::shared_ptr<ManualClock> clock = std::make_shared<ManualClock>();
  LitellmFake litellm{ServerOptions{}, LitellmOptions{}, 42, clock};
  std::map<std::string, std::string> master{{"Authorization", "Bearer sk-orgquake-master"}};

  LitellmFixture() { litellm.start(); }
  TestClient client() { return TestClient(litellm.port()); }

  Reply post(TestClient& c, const std::string& path, const json& body) {
    auto headers = master;
    headers["Content-Type"] = "application/json";
    return c.post(path, body.dump(), headers);
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(litellm, *boost::unit_test::label("fakes"))

BOOST_AUTO_TEST_CASE(sha256_matches_known_vectors) {
  BOOST_TEST(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  BOOST_TEST(sha256_hex("abc") ==
             "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  BOOST_TEST(sha256_hex(std::string(1000, 'a')) ==
             "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

BOOST_FIXTURE_TEST_CASE(user_lifecycle_with_budgets, LitellmFixture) {
  TestClient c = client();
  Reply created = post(c, "/user/new",
                       {{"user_id", "u1"},
                        {"user_email", "u1@x.io"},
                        {"max_budget", 10.0},
                        {"spend", 2.5},
                        {"auto_create_key", false}});
  BOOST_TEST(created.status == 200);
  BOOST_TEST(created.json()["user_id"] == "u1");
  BOOST_TEST(created.json()["key"].is_null());

  Reply dup = post(c, "/user/new", {{"user_id", "u1"}});
  BOOST_TEST(dup.status == 400);
  BOOST_TEST(dup.json()["error"]["message"].get<std::string>().find("already exists") !=
             std::string::npos);
  BOOST_TEST(dup.json()["error"]["code"] == "400");
  BOOST_TEST(post(c, "/user/new", {{"user_id", "u2"}, {"user_email", "u1@x.io"}}).status == 400);

  auto info = c.get("/user/info?user_id=u1", master).json();
  BOOST_TEST(info["user_id"] == "u1");
  BOOST_TEST(info["user_info"]["max_budget"] == 10.0);
  BOOST_TEST(info["user_info"]["spend"] == 2.5);
  BOOST_TEST(info["keys"].empty());
  BOOST_TEST(c.get("/user/info?user_id=nobody", master).status == 404);
  BOOST_TEST(c.get("/user/info", master).status == 400);

  // Lifting the budget: null means unlimited.
  Reply lifted = post(c, "/user/update", {{"user_id", "u1"}, {"max_budget", nullptr}});
  BOOST_TEST(lifted.status == 200);
  BOOST_TEST(lifted.json()["data"]["max_budget"].is_null());
  BOOST_TEST(lifted.json()["data"]["spend"] == 2.5);
  BOOST_TEST(post(c, "/user/update", {{"user_id", "ghost"}, {"max_budget", 1}}).status == 404);
  BOOST_TEST(post(c, "/user/update", {{"user_id", "u1"}, {"max_budget", "ten"}}).status == 400);

  // A user made with a key, then deleted with it.
  Reply with_key = post(c, "/user/new", {{"user_id", "u3"}, {"key_alias", "first"}});
  const std::string key = with_key.json()["key"];
  BOOST_TEST(key.rfind("sk-", 0) == 0u);
  BOOST_TEST(litellm.key(key).has_value());
  Reply deleted = post(c, "/user/delete", {{"user_ids", {"u3"}}});
  BOOST_TEST(deleted.json()["deleted_users"] == json({"u3"}));
  BOOST_TEST(!litellm.user("u3").has_value());
  BOOST_TEST(!litellm.key(key).has_value());
}

BOOST_FIXTURE_TEST_CASE(teams_members_and_member_budgets, LitellmFixture) {
  TestClient c = client();
  post(c, "/user/new", {{"user_id", "owner"}, {"auto_create_key", false}});
  Reply team = post(c, "/team/new",
                    {{"team_id", "org-1"},
                     {"team_alias", "owner"},
                     {"max_budget", 7.5},
                     {"models", json::array()},
                     {"metadata", {{"version", 1}}}});
  BOOST_TEST(team.status == 200);
  BOOST_TEST(team.json()["team_id"] == "org-1");
  BOOST_TEST(team.json()["max_budget"] == 7.5);

  Reply again = post(c, "/team/new", {{"team_id", "org-1"}, {"max_budget", 1}});
  BOOST_TEST(again.status == 400);
  BOOST_TEST(again.body.find("already exists. Please use a different team id") !=
             std::string::npos);

  Reply update = post(c, "/team/update", {{"team_id", "org-1"}, {"max_budget", 9.0}});
  BOOST_TEST(update.json()["data"]["max_budget"] == 9.0);
  BOOST_TEST(post(c, "/team/update", {{"team_id", "nope"}}).status == 404);

  Reply add = post(c, "/team/member_add",
                   {{"team_id", "org-1"},
                    {"member", {{"user_id", "owner"}, {"role", "user"}}},
                    {"max_budget_in_team", 9.0}});
  BOOST_TEST(add.status == 200);
  BOOST_TEST(add.json()["updated_team_memberships"][0]["litellm_budget_table"]["max_budget"] ==
             9.0);
  Reply twice = post(c, "/team/member_add",
                     {{"team_id", "org-1"}, {"member", {{"user_id", "owner"}, {"role", "user"}}}});
  BOOST_TEST(twice.status == 400);
  BOOST_TEST(twice.body.find("already in team") != std::string::npos);
  BOOST_TEST(
      post(c, "/team/member_add", {{"team_id", "org-9"}, {"member", {{"user_id", "x"}}}}).status ==
      404);

  auto info = c.get("/team/info?team_id=org-1", master).json();
  BOOST_TEST(info["team_info"]["members_with_roles"].size() == 1u);
  BOOST_TEST(info["team_memberships"][0]["user_id"] == "owner");
  BOOST_TEST(c.get("/user/info?user_id=owner", master).json()["user_info"]["teams"] ==
             json({"org-1"}));

  Reply member_update =
      post(c, "/team/member_update",
           {{"team_id", "org-1"}, {"user_id", "owner"}, {"max_budget_in_team", 3}});
  BOOST_TEST(member_update.json()["max_budget_in_team"] == 3.0);
  BOOST_TEST(
      post(c, "/team/member_update", {{"team_id", "org-1"}, {"user_id", "stranger"}}).status ==
      400);

  // Adding an unknown user creates it, as LiteLLM does.
  post(c, "/team/member_add", {{"team_id", "org-1"}, {"member", {{"user_id", "newbie"}}}});
  BOOST_TEST(litellm.user("newbie").has_value());
  Reply removed = post(c, "/team/member_delete", {{"team_id", "org-1"}, {"user_id", "newbie"}});
  BOOST_TEST(removed.json()["members_with_roles"].size() == 1u);
  BOOST_TEST(post(c, "/team/member_delete", {{"team_id", "org-1"}, {"user_id", "newbie"}}).status ==
             400);

  post(c, "/key/generate", {{"user_id", "owner"}, {"team_id", "org-1"}});
  BOOST_TEST(post(c, "/team/delete", {{"team_ids", {"org-1", "ghost"}}}).status == 404);
  BOOST_TEST(litellm.team("org-1").has_value());  // all or nothing
  BOOST_TEST(post(c, "/team/delete", {{"team_ids", {"org-1"}}}).status == 200);
  BOOST_TEST(!litellm.team("org-1").has_value());
  BOOST_TEST(litellm.keys().empty());  // team keys go with the team
  BOOST_TEST(litellm.user("owner")->teams.empty());
}

BOOST_FIXTURE_TEST_CASE(keys_generate_list_update_info_delete, LitellmFixture) {
  TestClient c = client();
  post(c, "/user/new", {{"user_id", "u"}, {"auto_create_key", false}});
  post(c, "/team/new", {{"team_id", "t"}});
  std::vector<std::string> keys;
  for (int i = 0; i < 12; ++i) {
    Reply r = post(c, "/key/generate",
                   {{"user_id", "u"}, {"key_alias", "k" + std::to_string(i)}, {"max_budget", 5}});
    BOOST_TEST_REQUIRE(r.status == 200);
    keys.push_back(r.json()["key"]);
    BOOST_TEST(r.json()["token"] == sha256_hex(keys.back()));
  }
  // Pages of 10 by default, as LiteLLM: a client must follow total_pages.
  auto page1 = c.get("/key/list?user_id=u", master).json();
  BOOST_TEST(page1["keys"].size() == 10u);
  BOOST_TEST(page1["total_count"] == 12);
  BOOST_TEST(page1["total_pages"] == 2);
  BOOST_TEST(page1["keys"][0] == sha256_hex(keys[0]));  // tokens, not key text
  auto page2 = c.get("/key/list?user_id=u&page=2&return_full_object=true", master).json();
  BOOST_TEST(page2["keys"].size() == 2u);
  BOOST_TEST(page2["keys"][0]["key_alias"] == "k10");
  BOOST_TEST(c.get("/key/list?page=0", master).status == 400);

  // Update by token moves the key to the team.
  Reply moved = post(c, "/key/update", {{"key", sha256_hex(keys[0])}, {"team_id", "t"}});
  BOOST_TEST(moved.status == 200);
  BOOST_TEST(moved.json()["team_id"] == "t");
  BOOST_TEST(post(c, "/key/update", {{"key", keys[1]}, {"team_id", "missing"}}).status == 400);
  BOOST_TEST(post(c, "/key/update", {{"key", "sk-unknown"}}).status == 404);
  auto info = c.get("/key/info?key=" + keys[0], master).json();
  BOOST_TEST(info["info"]["team_id"] == "t");
  BOOST_TEST(info["info"]["max_budget"] == 5.0);
  BOOST_TEST(c.get("/key/info?key=sk-nope", master).status == 404);
  BOOST_TEST(c.get("/key/list?team_id=t", master).json()["total_count"] == 1);

  Reply gone = post(c, "/key/delete", {{"keys", {keys[2]}}});
  BOOST_TEST(gone.json()["deleted_keys"].size() == 1u);
  BOOST_TEST(post(c, "/key/delete", {{"keys", {keys[2]}}}).status == 404);
  BOOST_TEST(post(c, "/key/generate", {{"key", "not-a-key"}}).status == 400);
  BOOST_TEST(post(c, "/key/generate", {{"key", keys[0]}}).status == 400);
}

BOOST_FIXTURE_TEST_CASE(models_endpoint_checks_the_virtual_key, LitellmFixture) {
  TestClient c = client();
  const std::string key = post(c, "/key/generate", {{"user_id", "u"}}).json()["key"];
  Reply ok = c.get("/v1/models", {{"Authorization", "Bearer " + key}});
  BOOST_TEST(ok.status == 200);
  BOOST_TEST(ok.json()["object"] == "list");
  BOOST_TEST(ok.json()["data"][0]["object"] == "model");
  BOOST_TEST(c.get("/v1/models", {{"x-litellm-api-key", key}}).status == 200);
  Reply unknown = c.get("/v1/models", {{"Authorization", "Bearer sk-never-issued"}});
  BOOST_TEST(unknown.status == 401);
  BOOST_TEST(unknown.json()["error"]["type"] == "auth_error");
  post(c, "/key/block", {{"key", key}});
  BOOST_TEST(c.get("/v1/models", {{"Authorization", "Bearer " + key}}).status == 401);
  post(c, "/key/unblock", {{"key", key}});
  BOOST_TEST(c.get("/v1/models", {{"Authorization", "Bearer " + key}}).status == 200);
  post(c, "/key/update", {{"key", key}, {"blocked", true}});
  BOOST_TEST(c.get("/v1/models", {{"Authorization", "Bearer " + key}}).status == 401);
}

BOOST_FIXTURE_TEST_CASE(master_key_auth_and_bad_input, LitellmFixture) {
  TestClient c = client();
  BOOST_TEST(c.get("/user/info?user_id=u").status == 401);
  BOOST_TEST(c.get("/user/info?user_id=u", {{"Authorization", "Bearer wrong"}}).status == 401);
  BOOST_TEST(c.get("/team/info?team_id=t", {{"x-litellm-api-key", "sk-orgquake-master"}}).status ==
             404);  // authenticated: the team just does not exist
  BOOST_TEST(c.get("/team/info?team_id=t", {{"x-goog-api-key", "sk-orgquake-master"}}).status ==
             404);
  // A virtual key is not an admin key.
  const std::string key = post(c, "/key/generate", {{"user_id", "u"}}).json()["key"];
  BOOST_TEST(c.get("/user/info?user_id=u", {{"Authorization", "Bearer " + key}}).status == 401);

  auto headers = master;
  headers["Content-Type"] = "application/json";
  Reply broken = c.post("/team/new", "{\"team_id\": ", headers);
  BOOST_TEST(broken.status == 400);
  BOOST_TEST(broken.json()["error"]["type"] == "bad_request_error");
  BOOST_TEST(c.post("/team/new", "[1,2]", headers).status == 400);
  BOOST_TEST(c.post("/team/new", "{\"max_budget\": \"lots\"}", headers).status == 400);
  BOOST_TEST(c.post("/team/member_add", "{\"team_id\": 5}", headers).status == 400);
  BOOST_TEST(c.get("/user/info?user_id=%zz", master).status == 400);
  Reply route = c.get("/nope", master);
  BOOST_TEST(route.status == 404);
  BOOST_TEST(route.json().contains("error"));
  BOOST_TEST(c.get("/v1/models", master).status == 200);  // still serving
}

BOOST_FIXTURE_TEST_CASE(ledger_records_object_changes, LitellmFixture) {
  TestClient c = client();
  post(c, "/team/new", {{"team_id", "t"}, {"max_budget", 4}});
  post(c, "/team/update", {{"team_id", "t"}, {"max_budget", 5}});
  const Ledger ledger = litellm.ledger();
  const auto events = ledger.events("team", "t");
  BOOST_TEST(events.size() == 2u);
  BOOST_TEST(events[0].kind == "created");
  BOOST_TEST(events[1].state["max_budget"] == 5.0);
  BOOST_TEST(events[1].request_seq == 2u);
  BOOST_TEST(ledger.requests_to("POST", "/team/update").size() == 1u);
  BOOST_TEST(ledger.requests()[0].applied);
  BOOST_TEST(ledger.requests()[0].status == 200);
}

BOOST_AUTO_TEST_SUITE_END()
