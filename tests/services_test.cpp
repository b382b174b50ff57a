#define BOOST_TEST_MODULE orgquake services
#include "services/services.hpp"

#include <arpa/inet.h>
#include <filesystem>
#include <netinet/in.h>
#include <regex>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "core/error.hpp"
#include "services/interlock.hpp"
#include "services/redis_connection.hpp"
#include "services/run_directory.hpp"
#include "tests/support/process_runner.hpp"
#include "tests/support/shared_services.hpp"

namespace fs = std::filesystem;
using namespace orgquake;
using namespace std::chrono_literals;

namespace {

// What `orgquake services up` says about itself on stdout.
struct ServicesUpInfo {
  std::string pg_url, redis_url;
  pid_t postgres_pid = -1, redis_pid = -1;
  fs::path run_directory;
};

ServicesUpInfo parse_services_up(const std::vector<std::string>& lines) {
  ServicesUpInfo info;
  std::smatch m;
  for (const auto& line : lines) {
    if (line.rfind("ORGQUAKE_PG_URL=", 0) == 0) info.pg_url = line.substr(16);
    if (line.rfind("ORGQUAKE_REDIS_URL=", 0) == 0) info.redis_url = line.substr(19);
    if (std::regex_search(line, m, std::regex(R"(^# postgres .*pid (\d+))"))) {
      info.postgres_pid = std::stoi(m[1]);
    }
    if (std::regex_search(line, m, std::regex(R"(^# redis-server .*pid (\d+))"))) {
      info.redis_pid = std::stoi(m[1]);
    }
    if (line.rfind("# run directory ", 0) == 0) info.run_directory = line.substr(16);
  }
  return info;
}

// Holds a loopback port open for as long as it lives.
struct PortSquatter {
  int fd = -1;
  std::uint16_t port = 0;
  PortSquatter() {
    fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    BOOST_REQUIRE(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    BOOST_REQUIRE(listen(fd, 1) == 0);
    socklen_t len = sizeof a;
    getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
  }
  ~PortSquatter() { close(fd); }
};

std::string only_line(const std::string& text) {
  BOOST_TEST(!text.empty());
  BOOST_TEST(std::count(text.begin(), text.end(), '\n') == 1);
  return text;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(embedded, *boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(start_serve_and_stop_leave_nothing_behind) {
  auto services = services::Services::start({});
  auto* pg = services->embedded_postgres();
  auto* redis = services->embedded_redis();
  BOOST_REQUIRE(pg != nullptr);
  BOOST_REQUIRE(redis != nullptr);
  const pid_t pg_pid = pg->pid(), redis_pid = redis->pid();
  const fs::path run_dir = services->run_directory().path();
  {
    pqxx::connection c(services->admin_url().conninfo());
    BOOST_TEST(pqxx::nontransaction(c).exec("SELECT 1")[0][0].as<int>() == 1);
    // Tuned for throwaway data and for 256 concurrent clients.
    pqxx::nontransaction tx(c);
    BOOST_TEST(tx.exec("SHOW fsync")[0][0].as<std::string>() == "off");
    BOOST_TEST(tx.exec("SHOW synchronous_commit")[0][0].as<std::string>() == "off");
    BOOST_TEST(tx.exec("SHOW full_page_writes")[0][0].as<std::string>() == "off");
    BOOST_TEST(tx.exec("SHOW max_connections")[0][0].as<int>() >= 256 + 10);
    BOOST_TEST(tx.exec("SHOW listen_addresses")[0][0].as<std::string>() == "127.0.0.1");
  }
  auto r = services::RedisConnection::connect(services->redis_url(), 2s);
  BOOST_TEST(r.command_status({"PING"}) == "PONG");
  BOOST_TEST(r.command_status({"CONFIG", "GET", "save"}).empty());  // no RDB snapshots
  if (geteuid() == 0) {
    struct stat info {};
    BOOST_REQUIRE(stat((run_dir / "pgdata").c_str(), &info) == 0);
    BOOST_TEST(info.st_uid == services::find_account("postgres")->uid);
    BOOST_TEST((info.st_mode & 0777) == 0700u);
  }
  const auto backends = test::children_of(pg_pid);
  BOOST_TEST(backends.size() > 1u);  // checkpointer, walwriter, ...
  services->stop();
  BOOST_TEST(!test::process_exists(pg_pid));
  BOOST_TEST(!test::process_exists(redis_pid));
  for (pid_t backend : backends) {
    BOOST_TEST(test::eventually([&] { return !test::process_exists(backend); }, 10s));
  }
  BOOST_TEST(!fs::exists(run_dir));
}

BOOST_AUTO_TEST_CASE(sigkill_of_the_harness_leaves_no_server_and_the_next_start_cleans_up) {
  // The killed harness's children are orphaned; as their subreaper this test
  // inherits them and reaps them, rather than leaving zombies to an init that
  // may not reap (as on some VMs).
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  test::BackgroundCommand up(test::orgquake_binary(), {"services", "up"});
  const auto info = parse_services_up(up.read_until("# ready", 60s));
  BOOST_REQUIRE(info.postgres_pid > 0);
  BOOST_REQUIRE(info.redis_pid > 0);
  BOOST_REQUIRE(fs::exists(info.run_directory));
  // Postgres has its backends and auxiliary processes by now; they must go too.
  pqxx::connection session(services::PgUrl::parse(info.pg_url).conninfo());
  const auto backends = test::children_of(info.postgres_pid);
  BOOST_TEST(backends.size() > 2u);

  up.kill_now(SIGKILL);
  up.wait();
  BOOST_TEST(test::eventually([&] { return !test::process_exists(info.postgres_pid); }, 10s));
  BOOST_TEST(test::eventually([&] { return !test::process_exists(info.redis_pid); }, 10s));
  for (pid_t backend : backends) {
    BOOST_TEST_CONTEXT("postgres child " << backend) {
      BOOST_TEST(test::eventually([&] { return !test::process_exists(backend); }, 10s));
    }
  }
  BOOST_TEST(fs::exists(info.run_directory));  // SIGKILL runs no cleanup...

  auto next = services::RunDirectory::create();  // ...so the next start does it.
  BOOST_TEST(!fs::exists(info.run_directory));
  while (waitpid(-1, nullptr, WNOHANG) > 0) {
  }
  prctl(PR_SET_CHILD_SUBREAPER, 0);
}

BOOST_AUTO_TEST_CASE(ctrl_c_stops_services_up_cleanly) {
  test::BackgroundCommand up(test::orgquake_binary(), {"services", "up"});
  const auto info = parse_services_up(up.read_until("# ready", 60s));
  BOOST_REQUIRE(info.postgres_pid > 0);
  pqxx::connection c(services::PgUrl::parse(info.pg_url).conninfo());  // the printed URL works
  up.kill_now(SIGINT);
  const int status = up.wait();
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 0);
  BOOST_TEST(!test::process_exists(info.postgres_pid));
  BOOST_TEST(!test::process_exists(info.redis_pid));
  BOOST_TEST(!fs::exists(info.run_directory));
}

BOOST_AUTO_TEST_CASE(a_port_in_use_is_one_clear_line_and_nothing_runs) {
  PortSquatter squatter;
  auto result = test::run_orgquake({"services", "up", "--pg-port", std::to_string(squatter.port)});
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(only_line(result.err)
                 .find("port " + std::to_string(squatter.port) +
                       " on 127.0.0.1 is already in use") != std::string::npos);
  result = test::run_orgquake({"services", "up", "--redis-port", std::to_string(squatter.port)});
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(only_line(result.err).find("already in use") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(interlock, *boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(a_database_without_the_marker_is_refused) {
  auto& shared = test::shared_services();
  {
    pqxx::connection admin(shared.admin_url().conninfo());
    pqxx::nontransaction(admin).exec("DROP DATABASE IF EXISTS someone_elses");
    pqxx::nontransaction(admin).exec("CREATE DATABASE someone_elses TEMPLATE template0");
  }
  const auto foreign = shared.admin_url().with_database("someone_elses");
  services::ServicesOptions options;
  options.pg_url = foreign.full();
  try {
    services::Services::start(options);
    BOOST_FAIL("a foreign database was accepted");
  } catch (const EnvironmentError& e) {
    const std::string message = e.what();
    BOOST_TEST(message.find("refusing to use database 'someone_elses'") == 0u);
    BOOST_TEST(message.find("orgquake_marker") != std::string::npos);
  }
  // The command line says the same in one line, exit code 2, and starts nothing.
  auto result = test::run_orgquake({"run", "--pg-url", foreign.full(), "--users", "10"});
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(only_line(result.err).find("refusing to use database 'someone_elses'") !=
             std::string::npos);
  // Nothing was written: still no tables at all.
  pqxx::connection c(foreign.conninfo());
  BOOST_TEST(pqxx::nontransaction(c)
                 .exec("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0][0]
                 .as<int>() == 0);
}

BOOST_AUTO_TEST_CASE(a_marked_database_is_accepted_as_external) {
  auto& shared = test::shared_services();
  services::ServicesOptions options;
  options.pg_url = shared.admin_url().full();  // initdb'd by orgquake, so marked
  options.redis_url = "redis://127.0.0.1:" + std::to_string(shared.redis_url().port) + "/1";
  auto external = services::Services::start(options);
  BOOST_TEST(external->embedded_postgres() == nullptr);
  BOOST_TEST(external->embedded_redis() == nullptr);
  BOOST_TEST(!external->schema_base_database().has_value());
}

BOOST_AUTO_TEST_CASE(a_redis_database_with_foreign_keys_is_refused) {
  auto& shared = test::shared_services();
  auto url = shared.redis_url();
  url.database = 5;
  services::RedisConnection::connect(url, 2s).command_status({"SET", "their:key", "x"});
  BOOST_CHECK_THROW(services::claim_or_require_redis_marker(url), EnvironmentError);
  url.database = 6;  // empty: claimed
  BOOST_CHECK_NO_THROW(services::claim_or_require_redis_marker(url));
  BOOST_TEST(services::RedisConnection::connect(url, 2s).command_integer(
                 {"EXISTS", services::kRedisMarkerKey}) == 1);
}

BOOST_AUTO_TEST_SUITE_END()
