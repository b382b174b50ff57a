#define BOOST_TEST_MODULE orgquake fiber io
#include <atomic>
#include <thread>

#include <boost/fiber/all.hpp>
#include <boost/test/unit_test.hpp>

#include "migrator/io/pg_connection.hpp"
#include "migrator/io/reactor.hpp"
#include "migrator/io/redis_client.hpp"
#include "services/loopback_port.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;
using namespace std::chrono_literals;

namespace {

// Where the shared servers are, read on the main thread: the servers must be
// started there, since they die with the thread that starts them.
struct Endpoints {
  std::string pg;
  services::RedisUrl redis;
  Endpoints()
      : pg(test::shared_services().admin_url().conninfo()),
        redis(test::shared_services().redis_url()) {}
};
const Endpoints& endpoints() {
  static const Endpoints e;
  return e;
}

std::string conninfo() {
  return endpoints().pg;
}

io::RedisEndpoint redis_endpoint(int database = 0) {
  const auto& url = endpoints().redis;
  return {url.host, url.port, url.password, database, {}};
}

// Runs `body` on a fresh thread that uses the reactor scheduler, as a worker
// process's client thread does, and rethrows what it threw.
template <typename Body>
void on_reactor_thread(Body body) {
  endpoints();  // on this (the main) thread
  std::exception_ptr failure;
  std::thread thread([&] {
    try {
      io::use_reactor_scheduler();
      body();
    } catch (...) {
      failure = std::current_exception();
    }
  });
  thread.join();
  if (failure) std::rethrow_exception(failure);
}

constexpr int kFibers = 64;

}  // namespace

BOOST_AUTO_TEST_SUITE(fiber_io, *boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(sixty_four_fibers_on_one_thread_have_queries_in_flight_at_once) {
  int most_seen_by_server = 0;
  on_reactor_thread([&] {
    std::vector<io::PgConnection> connections;
    for (int i = 0; i < kFibers; ++i)
      connections.push_back(io::PgConnection::connect(conninfo(), io::after(10s)));
    auto observer = io::PgConnection::connect(conninfo(), io::after(10s));
    // Held before any client exists, so that every client's query must wait for it.
    observer.exec("SELECT pg_advisory_lock(4242)");
    std::atomic<bool> release{false};
    std::vector<boost::fibers::fiber> clients;
    for (int i = 0; i < kFibers; ++i) {
      clients.emplace_back([&, i] {
        // Each query waits on a row lock the observer holds: they stay in
        // flight until the observer has seen all of them.
        connections[i].exec("SELECT count(*) FROM pg_advisory_lock_shared(4242) AS held", {},
                            io::after(30s));
        connections[i].exec("SELECT pg_advisory_unlock_shared(4242)");
      });
    }
    boost::fibers::fiber watcher([&] {
      const auto deadline = std::chrono::steady_clock::now() + 20s;
      while (std::chrono::steady_clock::now() < deadline) {
        auto r = observer.exec(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND query LIKE 'SELECT count(*) FROM pg_advisory_lock_shared(4242)%'");
        most_seen_by_server = std::max(most_seen_by_server, static_cast<int>(r.integer(0, 0)));
        if (most_seen_by_server == kFibers) break;
        boost::this_fiber::sleep_for(5ms);
      }
      observer.exec("SELECT pg_advisory_unlock(4242)");
      release = true;
    });
    watcher.join();
    for (auto& c : clients) c.join();
    BOOST_TEST(release.load());
  });
  // Every one of the 64 fibers was waiting inside the server at one moment:
  // a blocking client would have had at most one.
  BOOST_TEST(most_seen_by_server == kFibers);
}

BOOST_AUTO_TEST_CASE(sixty_four_fibers_block_in_redis_at_once) {
  long long most_blocked = 0;
  on_reactor_thread([&] {
    std::vector<io::RedisClient> clients;
    for (int i = 0; i < kFibers; ++i)
      clients.push_back(io::RedisClient::connect(redis_endpoint(7), io::after(5s)));
    auto control = io::RedisClient::connect(redis_endpoint(7), io::after(5s));
    std::vector<boost::fibers::fiber> fibers;
    int received = 0;
    for (int i = 0; i < kFibers; ++i) {
      fibers.emplace_back([&, i] {
        auto reply = clients[i].command({"BLPOP", "orgquake:test:queue", "20"}, io::after(30s));
        if (reply.kind == io::RedisReply::Kind::array) ++received;
      });
    }
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (std::chrono::steady_clock::now() < deadline && most_blocked < kFibers) {
      auto info = control.command({"INFO", "clients"}).text;
      auto pos = info.find("blocked_clients:");
      if (pos != std::string::npos)
        most_blocked = std::max(most_blocked, std::atoll(info.c_str() + pos + 16));
      boost::this_fiber::sleep_for(5ms);
    }
    for (int i = 0; i < kFibers; ++i) control.command({"RPUSH", "orgquake:test:queue", "x"});
    for (auto& f : fibers) f.join();
    BOOST_TEST(received == kFibers);
  });
  BOOST_TEST(most_blocked == kFibers);
}

BOOST_AUTO_TEST_CASE(an_sql_error_keeps_the_connection_a_broken_one_does_not) {
  on_reactor_thread([] {
    auto pg = io::PgConnection::connect(conninfo(), io::after(5s));
    try {
      pg.exec("SELECT 1/0");
      BOOST_FAIL("no error");
    } catch (const io::PgError& e) {
      BOOST_TEST(e.sqlstate() == "22012");
    }
    BOOST_TEST(pg.exec("SELECT $1::int + 1", {"41"}).integer(0, 0) == 42);
    BOOST_TEST(pg.exec("SELECT $1::text IS NULL", {std::nullopt}).boolean(0, 0));
    // A backend terminated mid-session, as the postgres_backend_kill scenario does.
    auto killer = io::PgConnection::connect(conninfo(), io::after(5s));
    killer.exec("SELECT pg_terminate_backend($1)", {std::to_string(pg.backend_pid())});
    BOOST_CHECK_THROW(pg.exec("SELECT 1"), io::PgConnectionError);
    BOOST_TEST(!pg.open());
  });
}

// libpq closes a dead backend's socket itself, so the connection cannot tell
// the reactor to forget it; the next connection usually gets the same
// descriptor number. The reactor must then listen to the new socket, not
// wait out the deadline on the kernel's forgotten registration (which made
// every lookup after a backend kill time out connecting).
BOOST_AUTO_TEST_CASE(a_connection_after_a_killed_backend_reuses_its_descriptor) {
  on_reactor_thread([] {
    auto killer = io::PgConnection::connect(conninfo(), io::after(5s));
    for (int round = 0; round < 3; ++round) {
      {
        auto pg = io::PgConnection::connect(conninfo(), io::after(5s));
        BOOST_TEST(pg.exec("SELECT 1").integer(0, 0) == 1);
        killer.exec("SELECT pg_terminate_backend($1)", {std::to_string(pg.backend_pid())});
        BOOST_CHECK_THROW(pg.exec("SELECT 1"), io::PgConnectionError);
      }
      // Generous for a loaded machine, far below what a lost wakeup costs.
      auto again = io::PgConnection::connect(conninfo(), io::after(3s));
      BOOST_TEST(again.exec("SELECT 2").integer(0, 0) == 2);
    }
  });
}

// The settings a session starts with ride in its start-up packet, added to
// any the conninfo carries rather than replacing them.
BOOST_AUTO_TEST_CASE(start_up_options_add_to_the_conninfo_s_own) {
  on_reactor_thread([] {
    auto pg = io::PgConnection::connect(conninfo() + " options='-c statement_timeout=4321'",
                                        io::after(5s), "io-test",
                                        "-c idle_in_transaction_session_timeout=1234");
    BOOST_TEST(pg.exec("SHOW idle_in_transaction_session_timeout").text(0, 0) == "1234ms");
    BOOST_TEST(pg.exec("SHOW statement_timeout").text(0, 0) == "4321ms");
    BOOST_TEST(pg.exec("SHOW application_name").text(0, 0) == "io-test");
  });
}

BOOST_AUTO_TEST_CASE(a_deadline_ends_the_wait_and_the_connection) {
  on_reactor_thread([] {
    auto pg = io::PgConnection::connect(conninfo(), io::after(5s));
    bool other_fiber_ran = false;
    boost::fibers::fiber other([&] { other_fiber_ran = true; });
    BOOST_CHECK_THROW(pg.exec("SELECT pg_sleep(30)", {}, io::after(100ms)), io::PgConnectionError);
    other.join();
    BOOST_TEST(other_fiber_ran);
    BOOST_TEST(!pg.open());
  });
}

BOOST_AUTO_TEST_CASE(redis_unreachable_is_a_typed_error) {
  on_reactor_thread([] {
    const auto port = services::pick_free_loopback_port();  // nothing listens there
    BOOST_CHECK_THROW(io::RedisClient::connect({"127.0.0.1", port, "", 0, {}}, io::after(2s)),
                      io::RedisUnavailable);
    auto redis = io::RedisClient::connect(redis_endpoint(), io::after(2s));
    BOOST_CHECK_THROW(redis.command({"NOSUCHCOMMAND"}), io::RedisErrorReply);
    BOOST_TEST(redis.command({"PING"}).text == "PONG");  // still usable after an error reply
  });
}

BOOST_AUTO_TEST_CASE(clients_work_on_plain_threads_too) {
  BOOST_TEST(!io::reactor_installed());
  auto pg = io::PgConnection::connect(conninfo(), io::after(5s));
  BOOST_TEST(pg.exec("SELECT 'plain'").text(0, 0) == "plain");
  auto redis = io::RedisClient::connect(redis_endpoint(), io::after(2s));
  BOOST_TEST(redis.command({"SET", "orgquake:test:k", "v"}).text == "OK");
  BOOST_TEST(redis.command({"GET", "orgquake:test:k"}).text == "v");
  BOOST_TEST(redis.command({"GET", "orgquake:test:missing"}).is_nil());
}

BOOST_AUTO_TEST_SUITE_END()
