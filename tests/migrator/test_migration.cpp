// The reference migrator against real PostgreSQL and Redis and the fakes:
// every kind of fixture user, idempotence, loading strategies, bad input.
#include <map>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <fmt/format.h>
#include <pqxx/pqxx>

#include "core/error.hpp"
#include "migrator/loading.hpp"
#include "migrator/verification.hpp"
#include "tests/migrator/migration_fixture.hpp"
#include "tests/support/shared_services.hpp"
#include "world/digest.hpp"

using namespace orgquake;
using world::EdgeCase;

BOOST_AUTO_TEST_SUITE(reference_migration,
                      *boost::unit_test::label("migrator") *
                          boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(every_kind_of_user_migrates_completely) {
  test::MigrationFixture fixture;
  auto client = fixture.connect();
  auto ctx = client->context(1);
  auto migrator = migrator::make_reference_migrator();
  for (const auto& user : fixture.world().users) {
    BOOST_TEST_CONTEXT("user " << user.user_id) {
      const auto loaded = migrator->get_user_verified(ctx, user.user_id, {});
      BOOST_TEST(loaded.personal_org->id == user.user_id);
      BOOST_TEST(loaded.personal_org->name == user.username);
      BOOST_REQUIRE(loaded.memberships.size() == 1u);
      BOOST_TEST(loaded.memberships[0].role.name == "owner");

      // LiteLLM: one team with the legacy remaining credits, the user's own
      // budget lifted, the user a member, every legacy key moved.
      const auto team = fixture.litellm().team(user.user_id);
      BOOST_REQUIRE(team.has_value());
      BOOST_TEST(team->max_budget.value_or(-1) == user.remaining_credits(),
                 boost::test_tools::tolerance(1e-9));
      BOOST_TEST(!fixture.litellm().user(user.user_id)->max_budget.has_value());
      BOOST_TEST(team->member(user.user_id) != nullptr);
      for (const auto& key : user.keys) {
        BOOST_TEST(fixture.litellm().key(key.key)->team_id.value_or("") == user.user_id);
      }
      // The member's key works: a new one where the stored one was blocked.
      const auto& member_key = loaded.memberships[0].llm_api_key;
      BOOST_REQUIRE(member_key.has_value());
      BOOST_TEST(!fixture.litellm().key(*member_key)->blocked);
      BOOST_TEST((*member_key == user.keys.front().key) ==
                 !has(user.edge_cases, EdgeCase::expired_key));

      // Stripe: the original customer kept and pointed at the org, or exactly one created.
      std::vector<std::string> org_customers;
      for (const auto& c : fixture.stripe().customers()) {
        if (test::metadata_value(c.metadata, "org_id") == user.user_id)
          org_customers.push_back(c.id);
      }
      BOOST_REQUIRE(org_customers.size() == 1u);
      if (user.stripe_customer_id) BOOST_TEST(org_customers[0] == *user.stripe_customer_id);
    }
  }
  BOOST_TEST(fixture.stripe().invoices().empty());  // migration never bills
  BOOST_TEST(ctx.stats.migrations == static_cast<int>(fixture.world().users.size()));
  auto& pg = fixture.pg();
  BOOST_TEST(pg.exec("SELECT count(*) FROM org").integer(0, 0) ==
             static_cast<long>(fixture.world().users.size()));
  BOOST_TEST(
      pg.exec("SELECT count(*) FROM user_settings WHERE NOT already_migrated").integer(0, 0) == 0);
  BOOST_TEST(pg.exec("SELECT count(*) FROM stripe_customers WHERE org_id IS NULL").integer(0, 0) ==
             0);
  BOOST_TEST(pg.exec("SELECT count(*) FROM conversation_metadata_org").integer(0, 0) ==
             pg.exec("SELECT count(*) FROM conversation_metadata").integer(0, 0));
}

BOOST_AUTO_TEST_CASE(a_second_migration_changes_nothing_anywhere) {
  test::MigrationFixture fixture(12);
  auto client = fixture.connect();
  auto ctx = client->context(1);
  auto migrator = migrator::make_reference_migrator();
  for (const auto& user : fixture.world().users) migrator->migrate_user(ctx, user.user_id, 0);

  pqxx::connection observer(fixture.database_url().conninfo());
  const auto digest = world::database_digest(observer);
  const auto stripe_requests = fixture.stripe().ledger().requests().size();
  const auto litellm_requests = fixture.litellm().ledger().requests().size();
  const auto stripe_changes = fixture.stripe().ledger().objects().size();
  const auto litellm_changes = fixture.litellm().ledger().objects().size();
  for (const auto& user : fixture.world().users) {
    migrator->migrate_user(ctx, user.user_id, 0);
    migrator->get_user_verified(ctx, user.user_id, {});
  }
  BOOST_TEST(world::database_digest(observer) == digest);
  BOOST_TEST(fixture.stripe().ledger().objects().size() == stripe_changes);
  BOOST_TEST(fixture.litellm().ledger().objects().size() == litellm_changes);
  // Not even a read: the database says the user is migrated.
  BOOST_TEST(fixture.stripe().ledger().requests().size() == stripe_requests);
  BOOST_TEST(fixture.litellm().ledger().requests().size() == litellm_requests);
}

BOOST_AUTO_TEST_CASE(every_loading_strategy_returns_the_same_user) {
  test::MigrationFixture fixture(8);
  auto client = fixture.connect();
  auto ctx = client->context(1);
  auto migrator = migrator::make_reference_migrator();
  const auto& user = fixture.plain_user();
  migrator->get_user_verified(ctx, user.user_id, {});
  // A few team memberships besides the personal org, so that N+1 has rows to be N of.
  for (int i = 0; i < 3; ++i) {
    const std::string team = fmt::format("00000000-0000-4000-8000-00000000000{}", i);
    client->pg.exec(
        "INSERT INTO org (id, name, kind, owner_user_id) VALUES ($1, $2, 'team', 'someone')",
        {team, "team " + std::to_string(i)});
    client->pg.exec(
        "INSERT INTO org_member (org_id, user_id, role_id) SELECT $1, $2, id FROM role WHERE name "
        "= $3",
        {team, user.user_id, i == 0 ? "admin" : "member"});
  }
  std::map<std::string, int> queries;
  std::optional<migrator::LoadedUser> first;
  for (auto strategy : {migrator::LoadStrategy::joined, migrator::LoadStrategy::selectin,
                        migrator::LoadStrategy::n_plus_one}) {
    int count = 0;
    const auto loaded = migrator::load_user(client->pg, user.user_id, strategy, &count);
    BOOST_REQUIRE(loaded.has_value());
    BOOST_TEST(loaded->memberships.size() == 4u);
    migrator::verify(*loaded);
    if (!first) first = loaded;
    BOOST_TEST(*loaded == *first, "strategy " << migrator::name_of(strategy));
    queries[std::string(migrator::name_of(strategy))] = count;
  }
  BOOST_TEST(queries["joined"] == 1);
  BOOST_TEST(queries["selectin"] == 5);
  BOOST_TEST(queries["n_plus_one"] == 3 + 3 * 4);
}

BOOST_DATA_TEST_CASE(an_unknown_or_malformed_user_id_is_a_typed_error_that_changes_nothing,
                     boost::unit_test::data::make({"00000000-0000-4000-8000-0000deadbeef",
                                                   "O'Brien\"; DROP TABLE org; --", "Zoë 東京 🚀",
                                                   ""}),
                     id) {
  test::MigrationFixture fixture(6);
  auto client = fixture.connect();
  auto ctx = client->context(1);
  auto migrator = migrator::make_reference_migrator();
  pqxx::connection observer(fixture.database_url().conninfo());
  const auto digest = world::database_digest(observer);
  BOOST_CHECK_THROW(migrator->get_user_verified(ctx, id, {}), migrator::UnknownUser);
  BOOST_CHECK_THROW(migrator->migrate_user(ctx, id, 0), migrator::UnknownUser);
  BOOST_TEST(world::database_digest(observer) == digest);
  // Refused before any external call.
  BOOST_TEST(fixture.stripe().ledger().requests().empty());
  BOOST_TEST(fixture.litellm().ledger().requests().empty());
}

BOOST_AUTO_TEST_CASE(the_legacy_read_path_answers_the_same_after_migration) {
  test::MigrationFixture fixture(10);
  auto client = fixture.connect();
  auto ctx = client->context(1);
  auto migrator = migrator::make_reference_migrator();
  for (const auto& user : fixture.world().users) {
    const auto before = migrator::load_legacy_settings(client->pg, user.user_id);
    BOOST_REQUIRE(before.has_value());
    migrator->get_user_verified(ctx, user.user_id, {});
    BOOST_TEST((migrator::load_legacy_settings(client->pg, user.user_id) == before));
  }
}

BOOST_AUTO_TEST_CASE(the_migrators_are_selectable_by_name) {
  BOOST_TEST(migrator::make_migrator("reference")->name() == "reference");
  BOOST_TEST(migrator::make_migrator("seed_naive")->name() == "seed_naive");
  BOOST_TEST(migrator::migrator_names().front() == "reference");
  BOOST_CHECK_THROW(migrator::make_migrator("nope"), UsageError);
}

BOOST_AUTO_TEST_SUITE_END()
