// Failing HTTP APIs: retried where that is safe, a typed error naming the
// step where it is not, and a later retry converges.
#include <algorithm>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "fakes/fault_injector.hpp"
#include "services/loopback_port.hpp"
#include "tests/migrator/migration_fixture.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;
using world::EdgeCase;

namespace {

fakes::FaultSpec fault(std::string method, std::string path, fakes::FaultKind kind,
                       std::uint64_t first, int status = 500) {
  fakes::FaultSpec spec;
  spec.method = std::move(method);
  spec.path = std::move(path);
  spec.kind = kind;
  spec.status = status;
  spec.trigger.first = first;
  return spec;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_faults, *boost::unit_test::label("migrator") *
                                       boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(lost_responses_are_replayed_not_applied_twice) {
  test::MigrationFixture fixture(10);
  // Every write is applied and its response lost, once.
  fixture.stripe().add_fault(fault("POST", "/v1/customers", fakes::FaultKind::apply_then_reset, 1));
  fixture.stripe().add_fault(fault("POST", "/v1/customers/*", fakes::FaultKind::apply_then_500, 1));
  fixture.litellm().add_fault(fault("POST", "/team/new", fakes::FaultKind::apply_then_500, 1));
  fixture.litellm().add_fault(
      fault("POST", "/team/member_add", fakes::FaultKind::apply_then_reset, 1));
  fixture.litellm().add_fault(fault("POST", "/key/update", fakes::FaultKind::status, 2, 503));
  auto client = fixture.connect();
  auto ctx = client->context(1);
  auto migrator = migrator::make_reference_migrator();
  const auto& without_customer = fixture.user_with(EdgeCase::no_stripe_customer);
  const auto& with_customer = fixture.plain_user();
  for (const auto* user : {&without_customer, &with_customer}) {
    BOOST_TEST_CONTEXT("user " << user->user_id) {
      migrator->get_user_verified(ctx, user->user_id, {});
      int customers = 0;
      for (const auto& c : fixture.stripe().customers())
        customers += test::metadata_value(c.metadata, "org_id") == user->user_id;
      BOOST_TEST(customers == 1);
      BOOST_TEST(fixture.litellm().team(user->user_id)->max_budget.value_or(-1) ==
                     user->remaining_credits(),
                 boost::test_tools::tolerance(1e-9));
      BOOST_TEST(fixture.litellm().team(user->user_id)->members_with_roles.size() == 1u);
    }
  }
  int fired = 0;
  for (const auto& f : fixture.stripe().faults()) fired += static_cast<int>(f.fired);
  for (const auto& f : fixture.litellm().faults()) fired += static_cast<int>(f.fired);
  BOOST_TEST(fired >= 5);  // the faults really happened
  BOOST_TEST(!fixture.stripe().ledger().requests_to("POST", "/v1/customers").empty());
}

BOOST_AUTO_TEST_CASE(a_failing_api_names_the_step_commits_nothing_and_a_retry_converges) {
  test::MigrationFixture fixture(6);
  const auto id =
      fixture.litellm().add_fault(fault("POST", "/key/update", fakes::FaultKind::status, 0, 500));
  auto client = fixture.connect();
  auto ctx = client->context(1);
  auto migrator = migrator::make_reference_migrator();
  const auto& user = fixture.plain_user();
  try {
    migrator->get_user_verified(ctx, user.user_id, {});
    BOOST_FAIL("no error");
  } catch (const migrator::MigrationError& e) {
    BOOST_TEST(e.step() == "litellm.key_move");
  }
  BOOST_TEST(fixture.pg().exec("SELECT count(*) FROM org").integer(0, 0) == 0);
  BOOST_TEST(
      !fixture.pg()
           .exec("SELECT already_migrated FROM user_settings WHERE user_id = $1", {user.user_id})
           .boolean(0, 0));
  fixture.litellm().remove_fault(id);
  BOOST_TEST(migrator->get_user_verified(ctx, user.user_id, {}).personal_org.has_value());
  BOOST_TEST(fixture.litellm().key(user.keys.front().key)->team_id.value_or("") == user.user_id);
}

BOOST_AUTO_TEST_CASE(an_unreachable_api_or_a_timeout_is_a_typed_error_and_a_retry_converges) {
  test::MigrationFixture fixture(6);
  const auto& user = fixture.plain_user();
  auto migrator = migrator::make_reference_migrator();
  {
    // Stripe never answers the customer update: the client times out.
    io::HttpClient::Options quick;
    quick.request_timeout = std::chrono::milliseconds(300);
    auto client = fixture.connect();
    client->stripe_http =
        std::make_unique<io::HttpClient>("127.0.0.1", fixture.stripe().port(), quick);
    client->stripe = std::make_unique<migrator::StripeClient>(
        *client->stripe_http, migrator::StripeClient::Options{fixture.stripe().secret_key(), 2},
        Rng(1));
    const auto hold =
        fixture.stripe().add_fault(fault("POST", "/v1/customers/*", fakes::FaultKind::hold, 0));
    auto ctx = client->context(1);
    try {
      migrator->get_user_verified(ctx, user.user_id, {});
      BOOST_FAIL("no error");
    } catch (const migrator::MigrationError& e) {
      BOOST_TEST(e.step() == "stripe.customer_update");
      BOOST_TEST(std::string(e.what()).find("timed out") != std::string::npos);
    }
    fixture.stripe().remove_fault(hold);
  }
  BOOST_TEST(fixture.pg().exec("SELECT count(*) FROM org").integer(0, 0) == 0);
  {
    // LiteLLM is gone altogether: nothing listens where the client calls.
    auto client = fixture.connect();
    client->litellm_http =
        std::make_unique<io::HttpClient>("127.0.0.1", services::pick_free_loopback_port());
    client->litellm = std::make_unique<migrator::LiteLlmClient>(
        *client->litellm_http, migrator::LiteLlmClient::Options{fixture.litellm().master_key(), 2},
        Rng(2));
    auto ctx = client->context(2);
    const auto other = std::find_if(fixture.world().users.begin(), fixture.world().users.end(),
                                    [&](const auto& u) { return u.user_id != user.user_id; });
    try {
      migrator->get_user_verified(ctx, other->user_id, {});
      BOOST_FAIL("no error");
    } catch (const migrator::MigrationError& e) {
      BOOST_TEST(e.step() == "journal");  // the first external call: reading the credits
      BOOST_TEST(std::string(e.what()).find("cannot connect") != std::string::npos);
    }
  }
  BOOST_TEST(fixture.pg().exec("SELECT count(*) FROM org").integer(0, 0) == 0);
  // Once Stripe answers again, the first user's retry converges.
  auto client = fixture.connect();
  auto ctx = client->context(3);
  BOOST_TEST(migrator->get_user_verified(ctx, user.user_id, {}).personal_org.has_value());
  BOOST_TEST(test::metadata_value(fixture.stripe().customer(*user.stripe_customer_id)->metadata,
                                  "org_id") == user.user_id);
}

BOOST_AUTO_TEST_SUITE_END()
