// Many clients of one worker process are fibers on one thread; their lookups
// must overlap at I/O waits, as async request handlers do.
#include <thread>

#include <boost/fiber/all.hpp>
#include <boost/test/unit_test.hpp>

#include "migrator/io/reactor.hpp"
#include "tests/migrator/migration_fixture.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;

namespace {

constexpr int kFibers = 64;

struct Outcome {
  int most_in_flight = 0;
  int verified = 0;
  int lock_waits = 0;
  std::string error;
};

// Runs one lookup per fiber, all on one reactor thread; user_of(i) picks the
// user fiber i looks up.
template <typename UserOf>
Outcome concurrent_lookups(test::MigrationFixture& fixture, UserOf user_of) {
  Outcome outcome;
  std::thread worker([&] {
    try {
      io::use_reactor_scheduler();
      std::vector<std::unique_ptr<test::MigrationFixture::Client>> clients;
      for (int i = 0; i < kFibers; ++i) clients.push_back(fixture.connect());
      auto migrator = migrator::make_reference_migrator();
      int in_flight = 0;
      std::vector<boost::fibers::fiber> fibers;
      for (int i = 0; i < kFibers; ++i) {
        fibers.emplace_back([&, i] {
          auto ctx = clients[i]->context(1000 + i);
          outcome.most_in_flight = std::max(outcome.most_in_flight, ++in_flight);
          const auto user = migrator->get_user_verified(ctx, user_of(i), {});
          --in_flight;
          outcome.verified += user.personal_org.has_value() ? 1 : 0;
          outcome.lock_waits += ctx.stats.lock_waits;
        });
      }
      for (auto& f : fibers) f.join();
    } catch (const std::exception& e) {
      outcome.error = e.what();
    }
  });
  worker.join();
  return outcome;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(concurrency, *boost::unit_test::label("migrator") *
                                       boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(sixty_four_lookups_of_one_process_are_in_flight_at_once) {
  test::MigrationFixture fixture(kFibers);
  const auto outcome =
      concurrent_lookups(fixture, [&](int i) { return fixture.world().users[i].user_id; });
  BOOST_TEST(outcome.error.empty(), outcome.error);
  // With blocking I/O each lookup would finish before the next fiber ran.
  BOOST_TEST(outcome.most_in_flight == kFibers);
  BOOST_TEST(outcome.verified == kFibers);
  BOOST_TEST(fixture.pg().exec("SELECT count(*) FROM org").integer(0, 0) == kFibers);
}

BOOST_AUTO_TEST_CASE(sixty_four_duplicate_lookups_of_one_user_make_one_org) {
  test::MigrationFixture fixture(8);
  const auto& user = fixture.plain_user();
  const auto outcome = concurrent_lookups(fixture, [&](int) { return user.user_id; });
  BOOST_TEST(outcome.error.empty(), outcome.error);
  BOOST_TEST(outcome.most_in_flight == kFibers);
  BOOST_TEST(outcome.verified == kFibers);
  BOOST_TEST(outcome.lock_waits > 0);  // the race really happened
  BOOST_TEST(fixture.pg()
                 .exec("SELECT count(*) FROM org WHERE owner_user_id = $1", {user.user_id})
                 .integer(0, 0) == 1);
  BOOST_TEST(fixture.litellm().team(user.user_id)->members_with_roles.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()
