#include <chrono>
#include <cstdlib>
#include <string>
#include <unistd.h>
#include <vector>

#include <boost/fiber/all.hpp>
#include <boost/test/unit_test.hpp>

#include "core/error.hpp"
#include "tests/failpoints/fixture.hpp"

using namespace orgquake;
using namespace orgquake::failpoints;
using orgquake::failpoints::testing::injects_error;

namespace {

const FailpointState& state_of(const std::vector<FailpointState>& states, std::string_view name) {
  for (const FailpointState& state : states) {
    if (state.name == name) return state;
  }
  throw std::logic_error("no failpoint " + std::string(name) + " in describe()");
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(hit_log, testing::CleanRegistry, *boost::unit_test::label("fast"))

BOOST_AUTO_TEST_CASE(every_firing_is_logged_with_where_and_when) {
  configure("migrate.after_org_insert=return(boom);lookup.after_load=sleep(1)");
  const auto before = std::chrono::steady_clock::now();
  injects_error(Failpoint::migrate_after_org_insert);
  ORGQUAKE_FAILPOINT(lookup_after_load);
  const auto after = std::chrono::steady_clock::now();

  const std::vector<Hit> log = hits();
  BOOST_TEST_REQUIRE(log.size() == 2u);
  BOOST_TEST(log[0].failpoint == "migrate.after_org_insert");
  BOOST_TEST((log[0].action == Action::return_error));
  BOOST_TEST(log[0].argument == "boom");
  BOOST_TEST(log[1].failpoint == "lookup.after_load");
  BOOST_TEST((log[1].action == Action::sleep));
  BOOST_TEST(log[1].argument == "1");
  BOOST_TEST(log[1].sequence == log[0].sequence + 1);
  for (const Hit& hit : log) {
    BOOST_TEST((before <= hit.at && hit.at <= after));
    BOOST_TEST(hit.process_id == ::getpid());
    BOOST_TEST(hit.thread_id == ::gettid());
    BOOST_TEST((hit.fiber_id == boost::this_fiber::get_id()));
  }
}

BOOST_AUTO_TEST_CASE(a_hit_names_the_fiber_that_made_it) {
  set("lock.before_acquire", "off");
  boost::fibers::fiber::id client_id;
  boost::fibers::fiber client([&] {
    client_id = boost::this_fiber::get_id();
    ORGQUAKE_FAILPOINT(lock_before_acquire);
  });
  client.join();
  BOOST_TEST_REQUIRE(hits().size() == 1u);
  BOOST_TEST((hits()[0].fiber_id == client_id));
  BOOST_TEST((hits()[0].fiber_id != boost::this_fiber::get_id()));
}

BOOST_AUTO_TEST_CASE(clearing_the_log_keeps_the_sequence_going) {
  set("migrate.after_commit", "off");
  ORGQUAKE_FAILPOINT(migrate_after_commit);
  const std::uint64_t first = hits().at(0).sequence;
  clear_hits();
  BOOST_TEST(hits().empty());
  ORGQUAKE_FAILPOINT(migrate_after_commit);
  BOOST_TEST_REQUIRE(hits().size() == 1u);
  BOOST_TEST(hits()[0].sequence > first);
}

BOOST_AUTO_TEST_CASE(taking_the_log_returns_it_and_empties_it) {
  set("migrate.after_commit", "off");
  ORGQUAKE_FAILPOINT(migrate_after_commit);
  ORGQUAKE_FAILPOINT(migrate_after_commit);
  BOOST_TEST(take_hits().size() == 2u);
  BOOST_TEST(hits().empty());
  ORGQUAKE_FAILPOINT(migrate_after_commit);
  BOOST_TEST(take_hits().size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(observer, testing::CleanRegistry, *boost::unit_test::label("fast"))

BOOST_AUTO_TEST_CASE(observer_runs_in_the_firing_fiber_before_the_action) {
  std::vector<std::string> events;
  boost::fibers::fiber::id observed_in;
  set_observer([&](const Hit& hit) {
    events.push_back("observed " + std::string(hit.failpoint));
    observed_in = boost::this_fiber::get_id();
  });
  set("migrate.after_litellm_user_info", "return(quota)");
  boost::fibers::fiber::id client_id;
  boost::fibers::fiber client([&] {
    client_id = boost::this_fiber::get_id();
    try {
      ORGQUAKE_FAILPOINT(migrate_after_litellm_user_info);
    } catch (const InjectedError&) {
      events.push_back("caught");
    }
  });
  client.join();
  BOOST_TEST(
      events == (std::vector<std::string>{"observed migrate.after_litellm_user_info", "caught"}),
      boost::test_tools::per_element());
  BOOST_TEST((observed_in == client_id));
}

BOOST_AUTO_TEST_CASE(observer_may_call_back_into_the_registry) {
  // The controller releases a pause as soon as it has ordered the hit; a
  // release that arrives before the caller blocks must still count.
  set_observer([](const Hit& hit) { release(hit.failpoint); });
  set("lock.after_acquire", "pause");
  ORGQUAKE_FAILPOINT(lock_after_acquire);
  BOOST_TEST(paused_count("lock.after_acquire") == 0u);
  BOOST_TEST(hits().size() == 1u);
}

BOOST_AUTO_TEST_CASE(an_empty_observer_removes_it) {
  int calls = 0;
  set_observer([&](const Hit&) { ++calls; });
  set("migrate.after_commit", "off");
  ORGQUAKE_FAILPOINT(migrate_after_commit);
  set_observer({});
  ORGQUAKE_FAILPOINT(migrate_after_commit);
  BOOST_TEST(calls == 1);
  BOOST_TEST(hits().size() == 2u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(describe_and_environment, testing::CleanRegistry,
                         *boost::unit_test::label("fast"))

BOOST_AUTO_TEST_CASE(describe_lists_every_failpoint_with_its_configuration) {
  set("migrate.after_org_insert", "50%crash");
  const auto states = describe();
  BOOST_TEST(states.size() == failpoint_count);
  for (const FailpointState& state : states) {
    BOOST_TEST(!state.description.empty());
    BOOST_TEST(state.paused == 0u);
  }
  BOOST_TEST(state_of(states, "migrate.after_org_insert").configuration == "50%crash");
  BOOST_TEST(state_of(states, "migrate.after_journal").configuration == "");
  BOOST_TEST(state_of(states, "migrate.after_journal").description ==
             "the retry record with the credits snapshot is committed; no external call made yet");
}

BOOST_AUTO_TEST_CASE(environment_variable_configures_at_the_init_call) {
  ::setenv("ORGQUAKE_FAILPOINTS",
           "migrate.after_org_insert=50%crash;lookup.after_lock_acquire=2*sleep(100)->off", 1);
  // Nothing is read until the explicit call.
  BOOST_TEST(!is_armed(Failpoint::migrate_after_org_insert));
  BOOST_TEST(configure_from_environment());
  const auto states = describe();
  BOOST_TEST(state_of(states, "migrate.after_org_insert").configuration == "50%crash");
  BOOST_TEST(state_of(states, "lookup.after_lock_acquire").configuration == "2*sleep(100)->off");
}

BOOST_AUTO_TEST_CASE(absent_environment_variable_changes_nothing) {
  set("migrate.after_commit", "off");
  BOOST_TEST(!configure_from_environment());
  BOOST_TEST(state_of(describe(), "migrate.after_commit").configuration == "off");
}

BOOST_AUTO_TEST_CASE(bad_environment_variable_names_the_variable_and_the_mistake) {
  ::setenv("ORGQUAKE_FAILPOINTS", "migrate.after_org_insert=sleep(soon)", 1);
  try {
    configure_from_environment();
    BOOST_FAIL("a bad ORGQUAKE_FAILPOINTS was accepted");
  } catch (const UsageError& error) {
    BOOST_TEST(std::string(error.what()) ==
               "ORGQUAKE_FAILPOINTS: failpoint migrate.after_org_insert: term \"sleep(soon)\": "
               "sleep duration \"soon\" is not a whole number of milliseconds");
  }
  BOOST_TEST(!is_armed(Failpoint::migrate_after_org_insert));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(disarmed, testing::CleanRegistry, *boost::unit_test::label("fast"))

BOOST_AUTO_TEST_CASE(disarmed_failpoints_do_nothing) {
  int observed = 0;
  set_observer([&](const Hit&) { ++observed; });
  for (Failpoint point : all_failpoints()) {
    BOOST_TEST(!is_armed(point));
    BOOST_CHECK_NO_THROW(evaluate(point));
  }
  BOOST_TEST(hits().empty());
  BOOST_TEST(observed == 0);
}

BOOST_AUTO_TEST_CASE(cleared_failpoints_do_nothing) {
  configure("migrate.after_org_insert=return;migrate.after_commit=crash");
  clear("migrate.after_org_insert");
  BOOST_TEST(!injects_error(Failpoint::migrate_after_org_insert));
  clear_all();
  // Crash would end this test process if clear_all() left it armed.
  ORGQUAKE_FAILPOINT(migrate_after_commit);
  BOOST_TEST(!is_armed(Failpoint::migrate_after_commit));
  BOOST_TEST(hits().empty());
}

BOOST_AUTO_TEST_SUITE_END()
