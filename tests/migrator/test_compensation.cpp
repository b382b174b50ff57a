// The reference migrator's compensation (migrator/compensation.cpp): a user
// migrated, then the database put back as a backup from before the
// migration has it, then compensated, ends where they began, in the
// database and in both fakes: the restore's rollback made whole.
#include <algorithm>

#include <boost/test/unit_test.hpp>

#include "migrator/migrator.hpp"
#include "tests/migrator/migration_fixture.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;
using world::EdgeCase;

namespace {

/// What a restore of a backup from before the migration does to one user's
/// rows: the org model's rows, the journal and the fence gone, the billing
/// rows as they were, the legacy row unmigrated. Nothing outside PostgreSQL.
void restore_rows_of(test::MigrationFixture& f, const world::LegacyUser& user) {
  auto& pg = f.pg();
  const std::string& id = user.user_id;
  pg.exec(
      "DELETE FROM conversation_metadata_org WHERE user_id IN "
      "(SELECT id FROM app_user WHERE legacy_user_id = $1)",
      {id});
  pg.exec(
      "DELETE FROM org_member WHERE user_id IN "
      "(SELECT id FROM app_user WHERE legacy_user_id = $1)",
      {id});
  pg.exec("DELETE FROM app_user WHERE legacy_user_id = $1", {id});
  pg.exec("DELETE FROM org WHERE owner_user_id = $1", {id});
  pg.exec("DELETE FROM migration_journal WHERE user_id = $1", {id});
  pg.exec("DELETE FROM migration_fence WHERE user_id = $1", {id});
  if (user.stripe_customer_id) {
    pg.exec("UPDATE stripe_customers SET org_id = NULL WHERE user_id = $1", {id});
  } else {
    pg.exec("DELETE FROM stripe_customers WHERE user_id = $1", {id});
  }
  pg.exec("UPDATE user_settings SET already_migrated = false WHERE user_id = $1", {id});
}

}  // namespace

BOOST_AUTO_TEST_SUITE(compensation, *boost::unit_test::label("migrator") *
                                        boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(a_restored_user_compensated_ends_where_they_began) {
  test::MigrationFixture fixture(16, 77);
  auto client = fixture.connect();
  auto reference = migrator::make_reference_migrator();
  BOOST_REQUIRE(reference->compensates());
  std::vector<const world::LegacyUser*> users;
  for (auto flag : {EdgeCase::subscription, EdgeCase::no_stripe_customer, EdgeCase::expired_key,
                    EdgeCase::zero_budget, EdgeCase::two_keys, EdgeCase::none}) {
    const auto* user = flag == EdgeCase::none ? &fixture.plain_user() : &fixture.user_with(flag);
    // One user may carry several of these cases: each user once.
    if (std::find(users.begin(), users.end(), user) == users.end()) users.push_back(user);
  }
  for (const auto* each : users) {
    const auto& user = *each;
    BOOST_TEST_CONTEXT("user " << user.user_id << " (edge cases "
                               << static_cast<int>(user.edge_cases) << ")") {
      const std::string before = fixture.end_state(user);
      auto ctx = client->context(7);
      if (reference->compensate_user(ctx, user.user_id)) {
        BOOST_ERROR("compensating an unmigrated user undid something");
      }
      (void)reference->get_user_verified(ctx, user.user_id, {});
      const std::string migrated = fixture.end_state(user);
      BOOST_TEST(migrated != before);
      // A user the database calls migrated keeps what the migration did.
      BOOST_TEST(!reference->compensate_user(ctx, user.user_id));
      BOOST_TEST(fixture.end_state(user) == migrated);

      restore_rows_of(fixture, user);
      BOOST_TEST(reference->compensate_user(ctx, user.user_id));
      BOOST_TEST(fixture.end_state(user) == before);
      // Safe to repeat: nothing left to undo.
      BOOST_TEST(!reference->compensate_user(ctx, user.user_id));
      BOOST_TEST(fixture.end_state(user) == before);
      // And the user migrates again from the start (with a new replacement
      // key or customer where the first migration made one).
      BOOST_TEST(reference->get_user_verified(ctx, user.user_id, {}).personal_org.has_value());
    }
  }
}

BOOST_AUTO_TEST_CASE(a_migrator_without_compensation_says_so) {
  test::MigrationFixture fixture(4, 77);
  auto client = fixture.connect();
  auto naive = migrator::make_seed_naive_migrator();
  BOOST_TEST(!naive->compensates());
  auto ctx = client->context(1);
  BOOST_CHECK_THROW(naive->compensate_user(ctx, fixture.plain_user().user_id), std::logic_error);
}

BOOST_AUTO_TEST_SUITE_END()
