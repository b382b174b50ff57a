#define BOOST_TEST_MODULE orgquake database
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "core/error.hpp"
#include "migrator/schema.hpp"
#include "services/interlock.hpp"
#include "tests/support/shared_services.hpp"
#include "world/database_snapshot.hpp"
#include "world/digest.hpp"
#include "world/trial_database.hpp"

using namespace orgquake;

namespace {

// A fresh, empty, marked database on the shared server, dropped afterwards.
struct EmptyDatabase {
  std::string name;
  services::PgUrl url;
  explicit EmptyDatabase(const std::string& n) : name(n) {
    auto& s = test::shared_services();
    url = s.admin_url().with_database(name);
    pqxx::connection admin(s.admin_url().conninfo());
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
    pqxx::nontransaction(admin).exec("CREATE DATABASE " + name + " TEMPLATE template0");
  }
  ~EmptyDatabase() {
    pqxx::connection admin(test::shared_services().admin_url().conninfo());
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  }
};

template <typename Statement>
std::string sql_state_of(pqxx::connection& c, Statement statement) {
  try {
    pqxx::work tx(c);
    statement(tx);
    tx.commit();
  } catch (const pqxx::sql_error& e) {
    return e.sqlstate();
  }
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(schema_files_apply,
                      *boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(applies_in_order_and_twice_is_a_no_op) {
  EmptyDatabase db("schema_twice");
  pqxx::connection c(db.url.conninfo());
  const auto first = schema::apply(c);
  BOOST_TEST(first.size() == schema_files().size());
  for (std::size_t i = 1; i < first.size(); ++i)
    BOOST_TEST(first[i - 1].version < first[i].version);
  const auto digest = world::database_digest(c);
  const auto second = schema::apply(c);
  BOOST_TEST(second.empty());
  BOOST_TEST(world::database_digest(c) == digest);
  BOOST_TEST(schema::applied_versions(c).size() == schema_files().size());
  // Roles are seeded with their ranks.
  auto roles = pqxx::nontransaction(c).exec("SELECT name, rank FROM role ORDER BY rank");
  BOOST_TEST(roles.size() == 3u);
  BOOST_TEST(roles[0][0].as<std::string>() == "owner");
  BOOST_TEST(roles[0][1].as<int>() == 10);
  BOOST_TEST(roles[2][0].as<std::string>() == "member");
}

BOOST_AUTO_TEST_CASE(a_changed_applied_file_is_an_error_not_a_skip) {
  EmptyDatabase db("schema_changed");
  pqxx::connection c(db.url.conninfo());
  schema::apply(c);
  pqxx::nontransaction(c).exec("UPDATE schema_version SET checksum = 'edited' WHERE version = 2");
  BOOST_CHECK_THROW(schema::apply(c), EnvironmentError);
}

BOOST_AUTO_TEST_CASE(constraints_make_the_invariants_enforceable) {
  EmptyDatabase db("schema_constraints");
  pqxx::connection c(db.url.conninfo());
  schema::apply(c);
  pqxx::nontransaction(c).exec(
      "INSERT INTO user_settings (user_id, username) VALUES ('u1', 'one'), ('u2', 'two');"
      "INSERT INTO org (id, name, kind, owner_user_id) VALUES "
      "  ('00000000-0000-4000-8000-000000000001', 'one', 'personal', 'u1');"
      "INSERT INTO app_user (id, legacy_user_id, current_org_id) VALUES "
      "  ('00000000-0000-4000-8000-000000000001', 'u1', '00000000-0000-4000-8000-000000000001');"
      "INSERT INTO org_member (org_id, user_id, role_id) VALUES "
      "  ('00000000-0000-4000-8000-000000000001', '00000000-0000-4000-8000-000000000001', 1)");
  // A second personal org for one owner.
  BOOST_TEST(sql_state_of(c, [](pqxx::work& tx) {
               tx.exec(
                   "INSERT INTO org (id, name, kind, owner_user_id) VALUES "
                   "('00000000-0000-4000-8000-000000000002', 'one again', 'personal', 'u1')");
             }) == "23505");
  // A team org for the same owner is fine.
  BOOST_TEST(sql_state_of(c, [](pqxx::work& tx) {
               tx.exec(
                   "INSERT INTO org (id, name, kind, owner_user_id) VALUES "
                   "('00000000-0000-4000-8000-000000000003', 'team', 'team', 'u1')");
             }).empty());
  // A second membership of the same user in the same org.
  BOOST_TEST(sql_state_of(c, [](pqxx::work& tx) {
               tx.exec(
                   "INSERT INTO org_member (org_id, user_id, role_id) VALUES "
                   "('00000000-0000-4000-8000-000000000001', "
                   "'00000000-0000-4000-8000-000000000001', 3)");
             }) == "23505");
  // A membership in an org that does not exist.
  BOOST_TEST(sql_state_of(c, [](pqxx::work& tx) {
               tx.exec(
                   "INSERT INTO org_member (org_id, user_id, role_id) VALUES "
                   "('00000000-0000-4000-8000-0000000000ff', "
                   "'00000000-0000-4000-8000-000000000001', 1)");
             }) == "23503");
  // Two org names alike.
  BOOST_TEST(sql_state_of(c, [](pqxx::work& tx) {
               tx.exec(
                   "INSERT INTO org (id, name, kind, owner_user_id) VALUES "
                   "('00000000-0000-4000-8000-000000000004', 'one', 'personal', 'u2')");
             }) == "23505");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(trial_clones, *boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(a_clone_is_isolated_from_the_template_and_other_clones) {
  auto& services = test::shared_services();
  const auto world = world::generate({11, 200});
  auto tpl = world::TemplateDatabase::create(services, world);
  auto a = tpl.clone();
  auto b = tpl.clone();
  BOOST_TEST(a.name() != b.name());
  pqxx::connection ca(a.url().conninfo()), cb(b.url().conninfo());
  const auto digest = world::database_digest(ca);
  BOOST_TEST(world::database_digest(cb) == digest);
  BOOST_TEST(services::has_marker(ca));  // clones pass the interlock

  pqxx::nontransaction(ca).exec("UPDATE user_settings SET already_migrated = true");
  pqxx::nontransaction(ca).exec("DELETE FROM conversation_metadata");
  BOOST_TEST(world::database_digest(ca) != digest);
  BOOST_TEST(world::database_digest(cb) == digest);
  auto c = tpl.clone();  // the template itself is untouched
  pqxx::connection cc(c.url().conninfo());
  BOOST_TEST(world::database_digest(cc) == digest);
}

BOOST_AUTO_TEST_CASE(the_world_loads_faithfully_and_deterministically) {
  auto& services = test::shared_services();
  const auto world = world::generate({12, 300});
  auto tpl1 = world::TemplateDatabase::create(services, world);
  auto tpl2 = world::TemplateDatabase::create(services, world::generate({12, 300}));
  auto other = world::TemplateDatabase::create(services, world::generate({13, 300}));
  auto t1 = tpl1.clone();
  auto t2 = tpl2.clone();
  auto t3 = other.clone();
  pqxx::connection c1(t1.url().conninfo()), c2(t2.url().conninfo()), c3(t3.url().conninfo());
  BOOST_TEST(world::database_digest(c1) == world::database_digest(c2));
  BOOST_TEST(world::database_digest(c1) != world::database_digest(c3));

  pqxx::nontransaction tx(c1);
  BOOST_TEST(tx.exec("SELECT count(*) FROM user_settings")[0][0].as<std::size_t>() == 300u);
  std::size_t conversations = 0, customers = 0;
  for (const auto& u : world.users) {
    conversations += u.conversations.size();
    customers += u.stripe_customer_id ? 1 : 0;
  }
  BOOST_TEST(tx.exec("SELECT count(*) FROM conversation_metadata")[0][0].as<std::size_t>() ==
             conversations);
  BOOST_TEST(tx.exec("SELECT count(*) FROM stripe_customers")[0][0].as<std::size_t>() == customers);
  BOOST_TEST(tx.exec("SELECT count(*) FROM user_settings WHERE already_migrated")[0][0].as<int>() ==
             0);
  // Awkward usernames survive quoting byte for byte.
  for (const auto& u : world.users) {
    if (!has(u.edge_cases, world::EdgeCase::quoted_unicode_name)) continue;
    auto r = tx.exec_params("SELECT username, llm_api_key FROM user_settings WHERE user_id = $1",
                            u.user_id);
    BOOST_REQUIRE(r.size() == 1u);
    BOOST_TEST(r[0][0].as<std::string>() == u.username);
    BOOST_TEST(r[0][1].as<std::string>() == *u.llm_api_key);
  }
}

BOOST_AUTO_TEST_CASE(dropped_databases_are_gone) {
  auto& services = test::shared_services();
  std::string trial_name, template_name;
  {
    auto tpl = world::TemplateDatabase::create(services, world::generate({14, 20}));
    template_name = tpl.name();
    auto trial = tpl.clone();
    trial_name = trial.name();
    pqxx::connection open_session(trial.url().conninfo());  // drop must not wait on it
    trial.drop();
  }
  pqxx::connection admin(services.admin_url().conninfo());
  auto r = pqxx::nontransaction(admin).exec_params(
      "SELECT count(*) FROM pg_database WHERE datname IN ($1, $2)", trial_name, template_name);
  BOOST_TEST(r[0][0].as<int>() == 0);
}

namespace {

std::int64_t next_customer_id(pqxx::connection& c) {
  return pqxx::nontransaction(c)
      .exec("SELECT nextval('stripe_customers_id_seq')")[0][0]
      .as<std::int64_t>();
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_checked_out_database_comes_back_as_the_template_left_it) {
  auto& services = test::shared_services();
  auto tpl = world::TemplateDatabase::create(services, world::generate({16, 120}));
  std::string digest, name;
  std::int64_t next_id = 0;
  {
    auto pristine = tpl.clone();  // what every trial must start from
    pqxx::connection c(pristine.url().conninfo());
    digest = world::database_digest(c);
    next_id = next_customer_id(c);
  }
  {
    auto trial = tpl.checkout();
    name = trial.name();
    pqxx::connection c(trial.url().conninfo());
    {
      pqxx::nontransaction tx(c);
      tx.exec("UPDATE user_settings SET already_migrated = true");
      tx.exec("DELETE FROM conversation_metadata");
      tx.exec(
          "INSERT INTO stripe_customers (user_id, stripe_customer_id) "
          "SELECT user_id, 'cus_extra_' || user_id FROM user_settings LIMIT 3");
    }
    BOOST_TEST(world::database_digest(c) != digest);
  }
  // A session that outlives the trial, as a pool's does.
  pqxx::connection kept(services.admin_url().with_database(name).conninfo());
  auto next = tpl.checkout();
  BOOST_TEST(next.name() == name);  // the same database, restored in place
  BOOST_TEST(tpl.restores_made() == 1);
  pqxx::connection c(next.url().conninfo());
  BOOST_TEST(world::database_digest(c) == digest);
  BOOST_TEST(next_customer_id(c) == next_id);  // sequences too
  BOOST_TEST(world::database_digest(kept) == digest);
  BOOST_TEST(services::has_marker(c));
}

BOOST_AUTO_TEST_CASE(a_trial_that_changed_the_schema_gets_a_new_clone) {
  auto& services = test::shared_services();
  auto tpl = world::TemplateDatabase::create(services, world::generate({17, 40}));
  std::string first;
  {
    auto trial = tpl.checkout();
    first = trial.name();
    pqxx::connection c(trial.url().conninfo());
    pqxx::nontransaction(c).exec("ALTER TABLE user_settings ADD COLUMN org_hint text");
  }
  std::vector<std::string> dropped;
  auto next = tpl.checkout({[&](const std::string& name) { dropped.push_back(name); }, {}});
  BOOST_TEST(next.name() != first);
  BOOST_TEST(dropped == std::vector<std::string>{first});
  BOOST_TEST(tpl.restores_made() == 0);
  BOOST_TEST(tpl.clones_made() == 2);
  pqxx::connection admin(services.admin_url().conninfo());
  BOOST_TEST(pqxx::nontransaction(admin)
                 .exec_params("SELECT count(*) FROM pg_database WHERE datname = $1", first)[0][0]
                 .as<int>() == 0);
  pqxx::connection c(next.url().conninfo());
  BOOST_TEST(pqxx::nontransaction(c)
                 .exec("SELECT count(*) FROM information_schema.columns WHERE column_name = "
                       "'org_hint'")[0][0]
                 .as<int>() == 0);
}

BOOST_AUTO_TEST_CASE(a_restore_that_cannot_lock_gives_up_and_changes_nothing) {
  auto& services = test::shared_services();
  auto tpl = world::TemplateDatabase::create(services, world::generate({18, 30}));
  auto trial = tpl.clone();
  auto snapshot = world::DatabaseSnapshot::take(trial.url());
  BOOST_TEST(snapshot.table_count() >= 8u);
  pqxx::connection holder(trial.url().conninfo());
  pqxx::work locking(holder);
  locking.exec("DELETE FROM conversation_metadata");  // uncommitted, and locked
  BOOST_TEST(!snapshot.restore_into(trial.url(), 200));
  locking.abort();
  BOOST_TEST(snapshot.restore_into(trial.url(), 200));
}

BOOST_AUTO_TEST_CASE(every_kind_of_ddl_between_restores_is_seen_and_an_undone_one_forgiven) {
  auto& services = test::shared_services();
  auto tpl = world::TemplateDatabase::create(services, world::generate({19, 20}));
  auto trial = tpl.clone();
  auto snapshot = world::DatabaseSnapshot::take(trial.url());
  pqxx::connection c(trial.url().conninfo());
  const auto run = [&](const std::string& sql) { pqxx::nontransaction(c).exec(sql); };
  // Trials without DDL: the catalogs' signature says so, no rendering.
  run("DELETE FROM conversation_metadata");
  BOOST_TEST(snapshot.restore_into(trial.url(), 2000));
  BOOST_TEST(snapshot.restore_into(trial.url(), 2000));
  BOOST_TEST(snapshot.full_schema_checks() == 0);
  // One change of each catalog the schema check reads, and its undoing.
  const std::vector<std::pair<std::string, std::string>> changes = {
      {"CREATE SCHEMA scratch", "DROP SCHEMA scratch"},
      {"ALTER TABLE user_settings ADD COLUMN org_hint text",
       "ALTER TABLE user_settings DROP COLUMN org_hint"},
      {"ALTER TABLE user_settings ALTER COLUMN username DROP NOT NULL",
       "ALTER TABLE user_settings ALTER COLUMN username SET NOT NULL"},
      {"ALTER TABLE user_settings ALTER COLUMN email SET DEFAULT 'x'",
       "ALTER TABLE user_settings ALTER COLUMN email DROP DEFAULT"},
      {"ALTER TABLE user_settings ADD CONSTRAINT short_name CHECK (length(username) < 999)",
       "ALTER TABLE user_settings DROP CONSTRAINT short_name"},
      {"CREATE INDEX by_email ON user_settings (email)", "DROP INDEX by_email"},
      {"CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'",
       "DROP FUNCTION touch()"},
      {"CREATE TYPE mood AS ENUM ('calm')", "DROP TYPE mood"},
      {"CREATE VIEW named AS SELECT username FROM user_settings", "DROP VIEW named"},
      {"CREATE EXTENSION pg_trgm", "DROP EXTENSION pg_trgm"},
  };
  int checks = 0;
  for (const auto& [change, undo] : changes) {
    run(change);
    BOOST_TEST(!snapshot.restore_into(trial.url(), 2000), change);
    BOOST_TEST(snapshot.full_schema_checks() == ++checks, change);
    run(undo);
    // The catalogs moved, but the schema is the snapshot's again.
    BOOST_TEST(snapshot.restore_into(trial.url(), 2000), undo);
    BOOST_TEST(snapshot.full_schema_checks() == ++checks, undo);
  }
  // Changes to objects that already exist write new row versions.
  run("CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END'");
  run("CREATE TYPE mood AS ENUM ('calm')");
  run("CREATE VIEW named AS SELECT username FROM user_settings");
  snapshot = world::DatabaseSnapshot::take(trial.url());
  const std::vector<std::string> alterations = {
      "CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN OLD; "
      "END'",
      "CREATE TRIGGER touched BEFORE UPDATE ON user_settings FOR EACH ROW EXECUTE FUNCTION "
      "touch()",
      "ALTER TYPE mood ADD VALUE 'stormy'",
      "CREATE OR REPLACE VIEW named AS SELECT username, email FROM user_settings",
  };
  for (const auto& alteration : alterations) {
    BOOST_TEST(snapshot.restore_into(trial.url(), 2000));  // the signature is current
    run(alteration);
    BOOST_TEST(!snapshot.restore_into(trial.url(), 2000), alteration);
    snapshot = world::DatabaseSnapshot::take(trial.url());  // the changed schema, from here
  }
}

BOOST_AUTO_TEST_CASE(the_external_path_applies_the_schema_itself) {
  auto& shared = test::shared_services();
  services::ServicesOptions options;
  options.pg_url = shared.admin_url().full();
  options.redis_url = "redis://127.0.0.1:" + std::to_string(shared.redis_url().port) + "/2";
  auto external = services::Services::start(options);
  auto tpl = world::TemplateDatabase::create(*external, world::generate({15, 50}));
  auto trial = tpl.clone();
  pqxx::connection c(trial.url().conninfo());
  BOOST_TEST(schema::applied_versions(c).size() == schema_files().size());
  BOOST_TEST(services::has_marker(c));
}

BOOST_AUTO_TEST_SUITE_END()
