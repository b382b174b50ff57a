#define BOOST_TEST_MODULE orgquake session pool
#include "services/session_pool.hpp"

#include <arpa/inet.h>
#include <chrono>
#include <future>
#include <netinet/in.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "tests/support/shared_services.hpp"

using namespace orgquake;
using namespace std::chrono_literals;

namespace {

// A database of its own on the shared server, with one row to lock.
struct PoolFixture {
  std::string database = "session_pool_test";
  services::PgUrl direct;
  std::unique_ptr<services::SessionPool> pool;

  PoolFixture() {
    auto& s = test::shared_services();
    direct = s.admin_url().with_database(database);
    pqxx::connection admin(s.admin_url().conninfo());
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
    pqxx::nontransaction(admin).exec("CREATE DATABASE " + database + " TEMPLATE template0");
    pqxx::connection c(direct.conninfo());
    pqxx::nontransaction(c).exec("CREATE TABLE account (id int PRIMARY KEY, credits int)");
    pqxx::nontransaction(c).exec("INSERT INTO account VALUES (1, 10)");
    pool = std::make_unique<services::SessionPool>(s.admin_url());
  }
  ~PoolFixture() {
    pool->stop();
    pqxx::connection admin(test::shared_services().admin_url().conninfo());
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS " + database + " WITH (FORCE)");
  }

  std::string client(const std::string& application_name = "pool-test") const {
    return pool->client_url(database).with("application_name", application_name).conninfo();
  }

  // What pg_stat_activity says of the session with this backend pid.
  std::string application_name_of(int pid) const {
    pqxx::connection c(direct.conninfo());
    pqxx::nontransaction tx(c);
    auto r = tx.exec_params("SELECT application_name FROM pg_stat_activity WHERE pid = $1", pid);
    return r.empty() ? "<no such backend>" : r[0][0].as<std::string>();
  }
};

template <typename T, typename Transaction>
T value(Transaction&& tx, const std::string& sql) {
  return tx.exec1(sql)[0].template as<T>();
}

void wait_until(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!done()) {
    BOOST_REQUIRE_MESSAGE(std::chrono::steady_clock::now() < deadline, "waited 10 s");
    std::this_thread::sleep_for(5ms);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(session_pool, *boost::unit_test::precondition(test::services_available()))

BOOST_FIXTURE_TEST_CASE(a_client_gets_a_real_session_named_after_it, PoolFixture) {
  pqxx::connection c(client("worker-7"));
  pqxx::work tx(c);
  BOOST_TEST(value<int>(tx, "SELECT credits FROM account WHERE id = 1") == 10);
  BOOST_TEST(value<std::string>(tx, "SELECT current_database()") == database);
  // The pid the client was told is the backend's own, so faults and cancels
  // aimed at it through pg_stat_activity reach the session it uses.
  BOOST_TEST(value<int>(tx, "SELECT pg_backend_pid()") == c.backendpid());
  tx.commit();
  BOOST_TEST(application_name_of(c.backendpid()) == "worker-7");
  BOOST_TEST(pool->stats().sessions_opened == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_session_left_idle_is_reset_and_handed_on, PoolFixture) {
  int first_pid = 0;
  {
    pqxx::connection c(client("first"));
    first_pid = c.backendpid();
    pqxx::nontransaction tx(c);
    tx.exec("SET lock_timeout = '1234ms'");
    tx.exec("CREATE TEMP TABLE scratch (x int)");
    tx.exec("PREPARE credits_of(int) AS SELECT credits FROM account WHERE id = $1");
    tx.exec("SELECT pg_advisory_lock(42)");
    c.prepare("by_id", "SELECT credits FROM account WHERE id = $1");
    BOOST_TEST(tx.exec_prepared1("by_id", 1)[0].as<int>() == 10);  // extended protocol
  }
  wait_until([&] { return application_name_of(first_pid) == "orgquake-session-pool"; });
  pqxx::connection c(client("second"));
  BOOST_TEST(c.backendpid() == first_pid);
  pqxx::nontransaction tx(c);
  // Nothing of the first client's session state is left.
  BOOST_TEST(value<std::string>(tx, "SHOW lock_timeout") == "0");
  BOOST_TEST(value<int>(tx, "SELECT count(*) FROM pg_prepared_statements") == 0);
  BOOST_TEST(value<int>(tx,
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = "
                        "pg_backend_pid()") == 0);
  BOOST_CHECK_THROW(tx.exec("SELECT * FROM scratch"), pqxx::undefined_table);
  BOOST_TEST(application_name_of(c.backendpid()) == "second");
  const auto stats = pool->stats();
  BOOST_TEST(stats.sessions_opened == 1u);
  BOOST_TEST(stats.sessions_reused == 1u);
}

BOOST_FIXTURE_TEST_CASE(warmed_sessions_wait_for_their_clients, PoolFixture) {
  pool->warm(database, 3);
  BOOST_TEST(pool->stats().sessions_warmed == 3u);
  pool->warm(database, 2);  // enough are idle already
  BOOST_TEST(pool->stats().sessions_opened == 3u);
  std::vector<std::unique_ptr<pqxx::connection>> clients;
  for (int i = 0; i < 3; ++i) clients.push_back(std::make_unique<pqxx::connection>(client()));
  const auto stats = pool->stats();
  BOOST_TEST(stats.sessions_opened == 3u);  // no client waited for a backend
  BOOST_TEST(stats.sessions_reused == 3u);
}

BOOST_FIXTURE_TEST_CASE(a_client_gone_inside_a_transaction_closes_its_session, PoolFixture) {
  int holder_pid = 0;
  {
    // A worker killed while it holds a row lock: its connection just closes.
    pqxx::connection c(client("holder"));
    holder_pid = c.backendpid();
    pqxx::work tx(c);
    tx.exec("SELECT credits FROM account WHERE id = 1 FOR UPDATE");
    c.disconnect();
  }
  // The server rolls back and the lock is free, as for a direct client.
  pqxx::connection other(direct.conninfo());
  pqxx::nontransaction(other).exec("SET lock_timeout = '10s'");
  pqxx::work tx(other);
  tx.exec("UPDATE account SET credits = 11 WHERE id = 1");
  tx.commit();
  wait_until([&] { return application_name_of(holder_pid) == "<no such backend>"; });
  BOOST_TEST(pool->stats().sessions_closed == 1u);
  // The next client gets a new session.
  pqxx::connection next(client());
  BOOST_TEST(next.backendpid() != holder_pid);
}

BOOST_FIXTURE_TEST_CASE(a_killed_backend_closes_its_client, PoolFixture) {
  pqxx::connection c(client("victim"));
  {
    pqxx::connection admin(direct.conninfo());
    pqxx::nontransaction(admin).exec_params(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
        "victim");
  }
  wait_until([&] { return application_name_of(c.backendpid()) == "<no such backend>"; });
  BOOST_CHECK_THROW(pqxx::nontransaction(c).exec("SELECT 1"), pqxx::broken_connection);
  // The dead session is not pooled: the next client works.
  pqxx::connection next(client());
  BOOST_TEST(value<int>(pqxx::nontransaction(next), "SELECT 1") == 1);
}

BOOST_FIXTURE_TEST_CASE(a_cancel_request_reaches_the_session, PoolFixture) {
  pqxx::connection c(client("sleeper"));
  auto running = std::async(std::launch::async, [&] {
    try {
      pqxx::nontransaction(c).exec("SELECT pg_sleep(30)");
      return std::string("finished");
    } catch (const pqxx::sql_error& e) {
      return e.sqlstate() == "57014" ? std::string("canceled") : std::string(e.what());
    }
  });
  pqxx::connection admin(direct.conninfo());
  wait_until([&] {
    return value<int>(
               pqxx::nontransaction(admin),
               "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'sleeper' AND "
               "state = 'active'") == 1;
  });
  c.cancel_query();
  BOOST_TEST(running.get() == "canceled");
  BOOST_TEST(value<int>(pqxx::nontransaction(c), "SELECT 1") == 1);
}

BOOST_FIXTURE_TEST_CASE(start_up_options_become_settings, PoolFixture) {
  pqxx::connection c(client() + " options='-c statement_timeout=4321 -c search_path=pg_catalog'");
  pqxx::nontransaction tx(c);
  BOOST_TEST(value<std::string>(tx, "SHOW statement_timeout") == "4321ms");
  BOOST_TEST(value<std::string>(tx, "SHOW search_path") == "pg_catalog");
}

BOOST_FIXTURE_TEST_CASE(what_cannot_be_pooled_is_refused_in_one_line, PoolFixture) {
  try {
    pqxx::connection c(client() + " options='--single'");
    BOOST_FAIL("an option the pool cannot set was accepted");
  } catch (const pqxx::broken_connection& e) {
    BOOST_TEST(std::string(e.what()).find("orgquake session pool: start-up option") !=
               std::string::npos);
  }
  try {
    pqxx::connection c(pool->client_url("no_such_database").conninfo());
    BOOST_FAIL("a database that does not exist was connected to");
  } catch (const pqxx::broken_connection& e) {
    BOOST_TEST(std::string(e.what()).find("no_such_database") != std::string::npos);
  }
}

BOOST_FIXTURE_TEST_CASE(a_setting_the_server_refuses_fails_only_its_client, PoolFixture) {
  pool->warm(database, 2);
  try {
    pqxx::connection c(client() + " options='-c no_such_setting_at_all=1'");
    BOOST_FAIL("a setting the server does not know was accepted");
  } catch (const pqxx::broken_connection& e) {
    BOOST_TEST(std::string(e.what()).find("no_such_setting_at_all") != std::string::npos);
  }
  // The session it was offered went back, and the next client gets one.
  pqxx::connection next(client());
  const auto stats = pool->stats();
  BOOST_TEST(stats.sessions_opened == 2u);
  BOOST_TEST(stats.sessions_closed == 0u);
  BOOST_TEST(stats.sessions_reused == 1u);
}

BOOST_FIXTURE_TEST_CASE(a_silent_peer_does_not_hold_up_stop, PoolFixture) {
  // A client that connects and says nothing, and one with an open session.
  const int silent = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(pool->port());
  BOOST_REQUIRE(::connect(silent, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  pqxx::connection open(client("open"));
  const auto started = std::chrono::steady_clock::now();
  pool->stop();
  BOOST_TEST((std::chrono::steady_clock::now() - started < 5s));
  ::close(silent);
  BOOST_CHECK_THROW(pqxx::nontransaction(open).exec("SELECT 1"), pqxx::broken_connection);
}

BOOST_AUTO_TEST_SUITE_END()
