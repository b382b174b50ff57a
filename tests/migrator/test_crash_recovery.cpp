// The property the reference migrator is built for: crash it (a real
// SIGKILL, in a child process) at any failpoint, retry, and the end state is
// the one an uninterrupted migration leaves, in the database and in both
// fakes. The same loop against seed_naive shows why that takes care.
#include <algorithm>
#include <map>
#include <signal.h>
#include <sys/wait.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "migrator/failpoints/catalog.hpp"
#include "migrator/failpoints/registry.hpp"
#include "tests/migrator/migration_fixture.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;
using world::EdgeCase;

namespace {

constexpr int kUsers = 16;
constexpr std::uint64_t kWorldSeed = 77;

// One user of each path through the migration.
std::vector<const world::LegacyUser*> users_of_every_kind(const test::MigrationFixture& f) {
  std::vector<const world::LegacyUser*> users;
  for (auto flag : {EdgeCase::subscription, EdgeCase::no_stripe_customer, EdgeCase::expired_key,
                    EdgeCase::zero_budget, EdgeCase::two_keys}) {
    const auto* user = &f.user_with(flag);
    // One user may carry several of these cases: each user once.
    if (std::find(users.begin(), users.end(), user) == users.end()) users.push_back(user);
  }
  return users;
}

// Equal per user whatever else ran: its randomness is derived from its id.
std::uint64_t seed_for(const world::LegacyUser& user) {
  return StableHash{}.add(user.user_id).value();
}

migrator::LockOptions brief_lock() {
  auto lock = test::MigrationFixture::short_lock();
  lock.ttl = std::chrono::milliseconds(150);  // a crashed holder's lock lapses quickly
  return lock;
}

// End states of uninterrupted migrations, per migrator and user.
std::map<std::string, std::string> uninterrupted(const std::string& migrator_name) {
  test::MigrationFixture fixture(kUsers, kWorldSeed);
  auto client = fixture.connect(brief_lock());
  auto migrator = migrator::make_migrator(migrator_name);
  std::map<std::string, std::string> states;
  for (const auto* user : users_of_every_kind(fixture)) {
    auto ctx = client->context(seed_for(*user));
    migrator->get_user_verified(ctx, user->user_id, {});
    states[user->user_id] = fixture.end_state(*user);
  }
  return states;
}

struct CrashRun {
  int users = 0;
  int crashed = 0;
  int diverged = 0;
  std::vector<std::string> failures;  ///< retries that threw
};

CrashRun crash_and_retry(const std::string& migrator_name, std::string_view failpoint,
                         const std::map<std::string, std::string>& expected) {
  test::MigrationFixture fixture(kUsers, kWorldSeed);
  auto client = fixture.connect(brief_lock());
  auto migrator = migrator::make_migrator(migrator_name);
  CrashRun run;
  for (const auto* user : users_of_every_kind(fixture)) {
    ++run.users;
    const int status = test::in_child_process(fixture, [&](test::MigrationFixture::Client& child) {
      child.lock = brief_lock();
      failpoints::configure(std::string(failpoint) + "=crash");
      auto ctx = child.context(seed_for(*user));
      migrator->get_user_verified(ctx, user->user_id, {});
    });
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) ++run.crashed;
    try {
      auto ctx = client->context(seed_for(*user));
      migrator->get_user_verified(ctx, user->user_id, {});
    } catch (const std::exception& e) {
      run.failures.push_back(user->user_id + ": " + e.what());
    }
    if (fixture.end_state(*user) != expected.at(user->user_id)) {
      ++run.diverged;
      BOOST_TEST_MESSAGE(migrator_name << " crashed at " << failpoint << ", user " << user->user_id
                                       << " ended as\n"
                                       << fixture.end_state(*user) << "instead of\n"
                                       << expected.at(user->user_id));
    }
  }
  return run;
}

std::vector<std::string> every_failpoint() {
  std::vector<std::string> names;
  for (auto point : failpoints::all_failpoints()) names.emplace_back(failpoints::name_of(point));
  return names;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(crash_recovery,
                      *boost::unit_test::label("migrator") *
                          boost::unit_test::precondition(test::services_available()))

BOOST_DATA_TEST_CASE(reference_crashed_at_a_failpoint_then_retried_ends_as_if_uninterrupted,
                     boost::unit_test::data::make(every_failpoint()), failpoint) {
  static const auto expected = uninterrupted("reference");
  const CrashRun run = crash_and_retry("reference", failpoint, expected);
  BOOST_TEST_MESSAGE("reference, crash at " << failpoint << ": " << run.crashed
                                            << " of 5 users crashed there");
  BOOST_TEST(run.crashed > 0, failpoint << " is on no user's path");
  BOOST_TEST(run.failures.empty(), (run.failures.empty() ? "" : run.failures.front()));
  BOOST_TEST(run.diverged == 0);
}

BOOST_AUTO_TEST_CASE(seed_naive_does_not_survive_the_same_crashes) {
  const auto expected = uninterrupted("seed_naive");
  int diverged = 0, failed = 0;
  for (const auto& failpoint : every_failpoint()) {
    const CrashRun run = crash_and_retry("seed_naive", failpoint, expected);
    diverged += run.diverged;
    failed += static_cast<int>(run.failures.size());
  }
  BOOST_TEST_MESSAGE("seed_naive: " << diverged << " diverged end states, " << failed
                                    << " failed retries");
  BOOST_TEST(diverged + failed > 0);
}

BOOST_AUTO_TEST_SUITE_END()
