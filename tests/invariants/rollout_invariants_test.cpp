#define BOOST_TEST_MODULE orgquake rollout invariants
// The rollout's application code (migrator/dual_path.hpp) and the two
// invariants that judge it, gradual_rollout and non_breaking_rollout: a
// rollout served by the reference's own requests is valid, and each
// violation planted in its history (or its database) is found with the
// symptom that names it.
#include <cstdint>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "history/history.hpp"
#include "invariants/invariant.hpp"
#include "invariants/rollout_flags.hpp"
#include "migrator/dual_path.hpp"
#include "migrator/failpoints/injected_error.hpp"
#include "migrator/failpoints/registry.hpp"
#include "migrator/rollout.hpp"
#include "tests/migrator/migration_fixture.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;
using history::EventType;
using results::Validity;

namespace {

/// A rollout told by hand over a real database, whose requests are the
/// reference's real serves: each state of the flag is set in the database
/// and recorded as the controller records it, and each request's value is
/// what the worker would send.
struct Rollout {
  test::MigrationFixture fixture{12, 41};
  std::unique_ptr<test::MigrationFixture::Client> client = fixture.connect();
  std::unique_ptr<migrator::Migrator> reference = migrator::make_reference_migrator();
  history::History history;
  std::int64_t next_op = 0;
  std::int64_t now = 0;

  std::int64_t set_flag(int percentage, const std::vector<std::string>& allow_list) {
    const auto r = fixture.pg().exec(
        "UPDATE rollout_flag SET percentage = $1::int, allow_list = ARRAY(SELECT "
        "json_array_elements_text($2::json)), version = version + 1 RETURNING version",
        {std::to_string(percentage), nlohmann::json(allow_list).dump()});
    const auto version = r.integer(0, 0);
    history::Event event;
    event.type = EventType::rollout;
    event.time_ns = ++now;
    event.kind = "flag";
    event.value = {{"percentage", percentage}, {"allow_list", allow_list}, {"version", version}};
    history.add(std::move(event));
    return version;
  }
  /// A real request by the reference, recorded with its real answer.
  nlohmann::json serve(const std::string& user) {
    auto ctx = client->context(static_cast<std::uint64_t>(next_op) + 1);
    const int before = ctx.stats.migrations;
    auto value = migrator::to_json(reference->serve_user(ctx, user, {}));
    value["migrated_here"] = ctx.stats.migrations > before;
    record(user, EventType::ok, value);
    return value;
  }
  /// A request recorded with the value given (the plant).
  void record(const std::string& user, EventType type, nlohmann::json value) {
    history::Event invoke;
    invoke.type = EventType::invoke;
    invoke.time_ns = ++now;
    invoke.worker = 0;
    invoke.client = 0;
    invoke.op = next_op;
    invoke.kind = std::string(history::op_serve);
    invoke.user = user;
    invoke.phase = std::string(history::phase_run);
    history::Event done = invoke;
    done.type = type;
    done.time_ns = ++now;
    done.value = std::move(value);
    history.add(std::move(invoke));
    history.add(std::move(done));
    ++next_op;
  }
  void fault() {
    history::Event event;
    event.type = EventType::fault;
    event.time_ns = ++now;
    event.kind = "backend_kill";
    history.add(std::move(event));
  }
  results::Verdict check(std::string_view name) {
    const auto* invariant = invariants::find_invariant(name);
    BOOST_REQUIRE_MESSAGE(invariant != nullptr, "no invariant " << name);
    invariants::ObservedWorld observed{fixture.world(), fixture.pg(),
                                       invariants::snapshot(fixture.stripe()),
                                       invariants::snapshot(fixture.litellm()), &history};
    return invariant->check(observed);
  }
  /// A user the flag at `percentage` leaves out (and none allow-listed).
  std::string user_outside(int percentage) const {
    for (const auto& user : fixture.world().users) {
      if (migrator::rollout_bucket(user.user_id) >= percentage) return user.user_id;
    }
    BOOST_FAIL("every user's bucket is below " << percentage);
    return "";
  }
};

bool has_symptom(const results::Verdict& verdict, const std::string& symptom) {
  for (const auto& evidence : verdict.evidence) {
    if (evidence.symptom == symptom) return true;
  }
  return false;
}

void require_valid(const results::Verdict& verdict) {
  BOOST_TEST_INFO(verdict.summary);
  BOOST_REQUIRE(verdict.validity == Validity::valid);
}

void require_symptom(const results::Verdict& verdict, const std::string& symptom) {
  BOOST_TEST_INFO(verdict.summary);
  BOOST_REQUIRE(verdict.validity == Validity::invalid);
  BOOST_TEST(has_symptom(verdict, symptom));
}

}  // namespace

BOOST_AUTO_TEST_CASE(the_bucket_rule_is_the_protocol_s_and_the_judge_s) {
  // Pinned values: docs/worker-protocol.md quotes them, and the Python SDK's
  // test checks its own rule against the same ones.
  BOOST_TEST(migrator::rollout_bucket("") == 33);
  BOOST_TEST(migrator::rollout_bucket("00000000-0000-0000-0000-000000000000") == 77);
  BOOST_TEST(migrator::rollout_bucket("f74e3ec0-5a2d-4722-ad83-d7e257467e69") == 66);
  // The judge's rule, written apart, agrees on every fixture user at every
  // percentage, and with the allow list.
  test::MigrationFixture fixture{40, 5};
  for (const auto& user : fixture.world().users) {
    for (int percentage : {0, 1, 5, 50, 99, 100}) {
      migrator::RolloutFlag flag{percentage, {}, 1};
      invariants::FlagState state{1, percentage, {}};
      BOOST_TEST(migrator::in_rollout(flag, user.user_id) == state.covers(user.user_id));
    }
    migrator::RolloutFlag listed{0, {user.user_id}, 2};
    BOOST_TEST(migrator::in_rollout(listed, user.user_id));
  }
}

BOOST_AUTO_TEST_CASE(a_rollout_walked_up_rolled_back_and_forward_is_valid) {
  Rollout r;
  const auto& users = r.fixture.world().users;
  const std::string test_user = users.front().user_id;
  for (const auto& user : users) BOOST_TEST(r.serve(user.user_id).value("path", "") == "legacy");
  r.set_flag(0, {test_user});
  BOOST_TEST(r.serve(test_user).value("migrated_here", false));
  for (int percentage : {5, 50, 100}) {
    r.set_flag(percentage, {test_user});
    for (const auto& user : users) r.serve(user.user_id);
  }
  r.set_flag(0, {});  // rollback
  for (const auto& user : users) {
    const auto value = r.serve(user.user_id);
    BOOST_TEST(value.value("path", "") == "legacy");
    BOOST_TEST(value.value("compared", false));  // every user is migrated by now
    BOOST_TEST(value.value("mismatches", nlohmann::json::array()).empty());
  }
  r.set_flag(50, {test_user});
  for (const auto& user : users) r.serve(user.user_id);
  require_valid(r.check("gradual_rollout"));
  require_valid(r.check("non_breaking_rollout"));
  require_valid(r.check("reversible_rollout"));
  require_valid(r.check("same_org_per_lookup"));
}

BOOST_AUTO_TEST_CASE(the_legacy_path_finishes_a_migration_the_org_path_began) {
  Rollout r;
  const auto& user = r.fixture.plain_user().user_id;
  // An org-path request that failed after its journal and its LiteLLM
  // team, before its commit.
  r.set_flag(0, {user});
  failpoints::configure("migrate.after_litellm_team_new=return(injected)");
  BOOST_CHECK_THROW(r.serve(user), std::exception);
  failpoints::clear_all();
  r.record(user, EventType::fail,
           {{"error", "InjectedError"}, {"message", "injected"}, {"definite", false}});
  r.fault();
  BOOST_TEST((r.check("cross_system_reconciliation").validity == Validity::invalid));
  r.set_flag(0, {});  // rollback
  const auto value = r.serve(user);
  BOOST_TEST(value.value("path", "") == "legacy");
  BOOST_TEST(value.value("resumed", false));
  BOOST_TEST(value.value("migrated_here", false));
  require_valid(r.check("gradual_rollout"));
  require_valid(r.check("non_breaking_rollout"));
  // What the failed request left in LiteLLM belongs to an org now.
  require_valid(r.check("cross_system_reconciliation"));
}

BOOST_AUTO_TEST_CASE(gradual_rollout_finds_a_user_served_against_the_flag) {
  Rollout r;
  const auto user = r.user_outside(50);
  r.set_flag(50, {});
  auto value = r.serve(r.fixture.plain_user().user_id);
  value["path"] = "org";  // planted: whatever the flag said
  r.record(user, EventType::ok, value);
  require_symptom(r.check("gradual_rollout"), "served_against_flag");
}

BOOST_AUTO_TEST_CASE(gradual_rollout_finds_a_flag_version_nobody_set) {
  Rollout r;
  const auto& user = r.fixture.plain_user().user_id;
  auto value = r.serve(user);
  value["flag_version"] = 9;
  r.record(user, EventType::ok, value);
  require_symptom(r.check("gradual_rollout"), "unknown_flag_version");
}

BOOST_AUTO_TEST_CASE(gradual_rollout_finds_a_migration_on_the_legacy_path) {
  Rollout r;
  const auto& plain = r.fixture.plain_user().user_id;
  auto value = r.serve(plain);
  value["migrated_here"] = true;
  r.record(plain, EventType::ok, value);
  require_symptom(r.check("gradual_rollout"), "migrated_on_legacy_path");
}

BOOST_AUTO_TEST_CASE(gradual_rollout_finds_a_user_migrated_outside_the_rollout) {
  Rollout r;
  const auto& user = r.fixture.plain_user().user_id;
  r.serve(user);
  // Planted: migrated behind the flag's back, by no request of the trial.
  auto ctx = r.client->context(99);
  (void)r.reference->get_user_verified(ctx, user, {});
  require_symptom(r.check("gradual_rollout"), "migrated_outside_rollout");
  // A request whose outcome is unknown might have done it.
  r.record(user, EventType::info, {{"error", "worker_died"}, {"message", "killed"}});
  require_valid(r.check("gradual_rollout"));
}

BOOST_AUTO_TEST_CASE(non_breaking_rollout_finds_a_request_that_broke) {
  Rollout r;
  const auto& user = r.fixture.plain_user().user_id;
  r.serve(user);
  r.record(
      user, EventType::fail,
      {{"error", "MigrationError"}, {"message", "litellm.team_new: 500"}, {"definite", false}});
  // No fault fired: nothing explains a failed migration.
  require_symptom(r.check("non_breaking_rollout"), "request_failed");
  r.fault();
  require_valid(r.check("non_breaking_rollout"));
  // A verification error is the application breaking, faults or not.
  r.record(user, EventType::fail,
           {{"error", "VerificationError"}, {"message", "not_owner"}, {"definite", false}});
  require_symptom(r.check("non_breaking_rollout"), "request_failed");
}

BOOST_AUTO_TEST_CASE(non_breaking_rollout_finds_a_changed_answer) {
  Rollout r;
  const auto& user = r.fixture.plain_user().user_id;
  auto value = r.serve(user);
  require_valid(r.check("non_breaking_rollout"));
  value["answers"]["api_key"] = "sk-somebody-else";
  r.record(user, EventType::ok, value);
  require_symptom(r.check("non_breaking_rollout"), "answer_changed");
}

BOOST_AUTO_TEST_CASE(non_breaking_rollout_allows_only_a_blocked_key_to_be_replaced) {
  Rollout r;
  const auto& expired = r.fixture.user_with(world::EdgeCase::expired_key).user_id;
  r.set_flag(0, {expired});
  const auto value = r.serve(expired);
  BOOST_TEST(value.value("path", "") == "org");
  BOOST_TEST(value["answers"]["api_key"] !=
             nlohmann::json(*r.fixture.user_with(world::EdgeCase::expired_key).llm_api_key));
  require_valid(r.check("non_breaking_rollout"));
  // The same new key on the legacy path would be the legacy row changed.
  auto planted = value;
  planted["path"] = "legacy";
  r.record(expired, EventType::ok, planted);
  require_symptom(r.check("non_breaking_rollout"), "answer_changed");
}

BOOST_AUTO_TEST_CASE(non_breaking_rollout_finds_paths_that_disagree) {
  Rollout r;
  const auto& user = r.fixture.plain_user().user_id;
  auto value = r.serve(user);
  value["compared"] = true;
  value["mismatches"] = {"billing"};
  r.record(user, EventType::ok, value);
  require_symptom(r.check("non_breaking_rollout"), "paths_disagree");
}

BOOST_AUTO_TEST_CASE(non_breaking_rollout_finds_a_billing_identity_that_changed) {
  Rollout r;
  const auto& user = r.fixture.user_with(world::EdgeCase::no_stripe_customer).user_id;
  r.set_flag(0, {user});
  auto value = r.serve(user);
  BOOST_REQUIRE_EQUAL(value["answers"]["billing"].size(), 1u);
  require_valid(r.check("non_breaking_rollout"));
  value["answers"]["billing"] = {"cus_another"};
  r.record(user, EventType::ok, value);
  require_symptom(r.check("non_breaking_rollout"), "billing_identity_changed");
}

BOOST_AUTO_TEST_CASE(reversible_rollout_finds_credits_beyond_the_legacy_budget) {
  Rollout r;
  const auto& user = r.fixture.plain_user().user_id;
  r.set_flag(0, {user});
  r.serve(user);
  require_valid(r.check("reversible_rollout"));
  auto ctx = r.client->context(5);
  // Planted: the org's team gets more than the user had left.
  ctx.litellm.post("/team/update", {{"team_id", user}, {"max_budget", 100000}}, true);
  require_symptom(r.check("reversible_rollout"), "credits_beyond_legacy");
}

BOOST_AUTO_TEST_CASE(reversible_rollout_finds_a_lifted_budget_behind_a_key_left_outside_the_team) {
  Rollout r;
  const auto& user = r.fixture.plain_user();
  r.set_flag(0, {user.user_id});
  r.serve(user.user_id);
  auto ctx = r.client->context(5);
  // Planted: the legacy key leaves the team; the user's own budget is lifted.
  ctx.litellm.post("/key/update", {{"key", *user.llm_api_key}, {"team_id", nullptr}}, true);
  require_symptom(r.check("reversible_rollout"), "credits_beyond_legacy");
}

BOOST_AUTO_TEST_CASE(reversible_rollout_finds_legacy_means_broken_after_a_rollback) {
  Rollout r;
  const auto& user = r.fixture.plain_user();
  r.set_flag(0, {user.user_id});
  r.serve(user.user_id);
  auto ctx = r.client->context(5);
  // Planted: the migration "retired" the legacy key and customer.
  ctx.litellm.post("/key/block", {{"key", *user.llm_api_key}}, true);
  ctx.stripe.remove("/v1/customers/" + *user.stripe_customer_id);
  // Without a rollback, the legacy path's means are not this invariant's to judge.
  require_valid(r.check("reversible_rollout"));
  r.set_flag(0, {});
  const auto verdict = r.check("reversible_rollout");
  require_symptom(verdict, "legacy_key_unusable");
  BOOST_TEST(has_symptom(verdict, "legacy_customer_gone"));
}

BOOST_AUTO_TEST_CASE(the_rollout_invariants_have_nothing_to_judge_without_requests) {
  Rollout r;
  require_valid(r.check("gradual_rollout"));
  require_valid(r.check("non_breaking_rollout"));
  const auto* invariant = invariants::find_invariant("gradual_rollout");
  invariants::ObservedWorld observed{r.fixture.world(), r.fixture.pg(),
                                     invariants::snapshot(r.fixture.stripe()),
                                     invariants::snapshot(r.fixture.litellm()), nullptr};
  BOOST_TEST((invariant->check(observed).validity == Validity::unknown));
}
