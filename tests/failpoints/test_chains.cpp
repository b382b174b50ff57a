#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "tests/failpoints/fixture.hpp"

using namespace orgquake::failpoints;
using orgquake::failpoints::testing::injects_error;

namespace {

// The text each evaluation threw, or "-" when it let the caller through.
std::vector<std::string> outcomes(Failpoint point, int evaluations) {
  std::vector<std::string> seen;
  for (int i = 0; i < evaluations; ++i) {
    try {
      evaluate(point);
      seen.push_back("-");
    } catch (const InjectedError& error) {
      seen.push_back(error.text());
    }
  }
  return seen;
}

std::vector<bool> trigger_pattern(std::uint64_t seed, int evaluations) {
  testing::CleanRegistry::reset();
  set_seed(seed);
  set("migrate.after_org_insert", "50%return");
  std::vector<bool> pattern;
  for (int i = 0; i < evaluations; ++i) {
    pattern.push_back(injects_error(Failpoint::migrate_after_org_insert));
  }
  return pattern;
}

}  // namespace

BOOST_FIXTURE_TEST_SUITE(counts_and_chains, testing::CleanRegistry,
                         *boost::unit_test::label("fast"))

BOOST_AUTO_TEST_CASE(count_limits_triggers_then_the_chain_falls_through) {
  set("migrate.after_stripe_customer_update", "2*return(first)->1*return(second)->off");
  BOOST_TEST(outcomes(Failpoint::migrate_after_stripe_customer_update, 5) ==
                 (std::vector<std::string>{"first", "first", "second", "-", "-"}),
             boost::test_tools::per_element());
  std::vector<Action> actions;
  for (const Hit& hit : hits()) actions.push_back(hit.action);
  BOOST_TEST((actions == std::vector<Action>{Action::return_error, Action::return_error,
                                             Action::return_error, Action::off, Action::off}));
}

BOOST_AUTO_TEST_CASE(a_spent_chain_does_nothing_and_logs_nothing) {
  set("migrate.after_stripe_customer_create", "2*return");
  BOOST_TEST(outcomes(Failpoint::migrate_after_stripe_customer_create, 4) ==
                 (std::vector<std::string>{"", "", "-", "-"}),
             boost::test_tools::per_element());
  BOOST_TEST(hits().size() == 2u);
}

BOOST_AUTO_TEST_CASE(reconfiguring_restores_the_count) {
  set("lock.after_acquire", "1*return(once)");
  BOOST_TEST(outcomes(Failpoint::lock_after_acquire, 2) == (std::vector<std::string>{"once", "-"}),
             boost::test_tools::per_element());
  set("lock.after_acquire", "1*return(once)");
  BOOST_TEST(outcomes(Failpoint::lock_after_acquire, 2) == (std::vector<std::string>{"once", "-"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(count_holds_across_threads) {
  set("lookup.after_load", "100*return");
  std::atomic<int> injected = 0;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (injects_error(Failpoint::lookup_after_load)) ++injected;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  BOOST_TEST(injected == 100);
  BOOST_TEST(hits().size() == 100u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_FIXTURE_TEST_SUITE(probabilities, testing::CleanRegistry, *boost::unit_test::label("fast"))

BOOST_AUTO_TEST_CASE(same_seed_same_triggers_and_another_seed_others) {
  const auto first = trigger_pattern(42, 64);
  BOOST_TEST(first == trigger_pattern(42, 64), boost::test_tools::per_element());
  BOOST_TEST(first != trigger_pattern(43, 64));
}

BOOST_AUTO_TEST_CASE(hits_of_one_failpoint_do_not_shift_the_draws_of_another) {
  const auto alone = trigger_pattern(42, 64);
  testing::CleanRegistry::reset();
  set_seed(42);
  configure("migrate.after_org_insert=50%return;migrate.after_commit=50%return(other)");
  std::vector<bool> interleaved;
  for (int i = 0; i < 64; ++i) {
    for (int j = 0; j < i % 3; ++j) injects_error(Failpoint::migrate_after_commit);
    interleaved.push_back(injects_error(Failpoint::migrate_after_org_insert));
  }
  BOOST_TEST(interleaved == alone, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(setting_the_seed_restarts_the_streams_of_configured_failpoints) {
  const auto expected = trigger_pattern(7, 32);
  testing::CleanRegistry::reset();
  set("migrate.after_org_insert", "50%return");
  for (int i = 0; i < 5; ++i) injects_error(Failpoint::migrate_after_org_insert);
  set_seed(7);
  std::vector<bool> after_seed;
  for (int i = 0; i < 32; ++i) {
    after_seed.push_back(injects_error(Failpoint::migrate_after_org_insert));
  }
  BOOST_TEST(after_seed == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(proportion_of_triggers_follows_the_percentage) {
  set_seed(2024);
  set("lookup.after_lock_acquire", "25%return");
  int injected = 0;
  constexpr int evaluations = 20000;
  for (int i = 0; i < evaluations; ++i) {
    if (injects_error(Failpoint::lookup_after_lock_acquire)) ++injected;
  }
  // 25% of 20000 is 5000 with a standard deviation near 61; 500 is eight of them.
  BOOST_TEST(injected > 4500);
  BOOST_TEST(injected < 5500);
}

BOOST_AUTO_TEST_CASE(a_missed_draw_falls_through_to_the_next_term) {
  set_seed(5);
  set("migrate.after_litellm_key_move", "50%return(drawn)->return(fallback)");
  int drawn = 0, fallback = 0;
  for (const std::string& outcome : outcomes(Failpoint::migrate_after_litellm_key_move, 1000)) {
    if (outcome == "drawn") ++drawn;
    if (outcome == "fallback") ++fallback;
  }
  BOOST_TEST(drawn + fallback == 1000);
  BOOST_TEST(drawn > 400);
  BOOST_TEST(fallback > 400);
}

BOOST_AUTO_TEST_CASE(zero_percent_never_triggers_and_hundred_always_does) {
  set("migrate.after_journal", "0%return");
  BOOST_TEST(outcomes(Failpoint::migrate_after_journal, 100) == std::vector<std::string>(100, "-"),
             boost::test_tools::per_element());
  set("migrate.after_journal", "100%return(always)");
  BOOST_TEST(
      outcomes(Failpoint::migrate_after_journal, 100) == std::vector<std::string>(100, "always"),
      boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
