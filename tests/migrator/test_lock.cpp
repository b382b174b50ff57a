// The lock and the fence: a paused holder cannot commit stale work, Redis
// down is an error rather than an unlocked migration, waits are bounded.
#include <algorithm>
#include <cctype>
#include <map>
#include <thread>

#include <boost/fiber/all.hpp>
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "migrator/failpoints/registry.hpp"
#include "migrator/io/reactor.hpp"
#include "migrator/redis_lock.hpp"
#include "services/redis_monitor.hpp"
#include "tests/migrator/migration_fixture.hpp"
#include "tests/support/shared_services.hpp"
#include "world/digest.hpp"

using namespace orgquake;
using namespace std::chrono_literals;

namespace {

struct ClearFailpoints {
  ~ClearFailpoints() {
    failpoints::clear_all();
    failpoints::clear_hits();
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(lock_and_fence,
                      *boost::unit_test::label("migrator") *
                          boost::unit_test::precondition(test::services_available()))

BOOST_AUTO_TEST_CASE(a_holder_paused_past_its_lease_cannot_commit) {
  test::MigrationFixture fixture(8);
  ClearFailpoints cleanup;
  const auto& user = fixture.plain_user();
  auto lock = test::MigrationFixture::short_lock();
  lock.ttl = 200ms;
  // The first holder stops after every external step, before its commit.
  failpoints::configure("migrate.after_litellm_key_generate=1*pause");
  std::string first_error, worker_error;
  bool second_ok = false;
  // Assertions stay on the main thread; the worker only records.
  std::thread worker([&] {
    try {
      io::use_reactor_scheduler();
      auto a = fixture.connect(lock);
      // The second holder's lease outlives its whole migration however slow
      // the machine: only the first's is meant to lapse.
      auto long_lock = lock;
      long_lock.ttl = 30s;
      auto b = fixture.connect(long_lock);
      auto migrator = migrator::make_reference_migrator();
      boost::fibers::fiber first([&] {
        auto ctx = a->context(1);
        try {
          migrator->get_user_verified(ctx, user.user_id, {});
        } catch (const migrator::FencedOut& e) {
          first_error = e.what();
        }
      });
      while (failpoints::paused_count("migrate.after_litellm_key_generate") == 0) {
        boost::this_fiber::sleep_for(2ms);
      }
      boost::this_fiber::sleep_for(lock.ttl + 50ms);  // the first holder's lease lapses
      auto ctx = b->context(2);
      second_ok = migrator->get_user_verified(ctx, user.user_id, {}).personal_org.has_value();
      failpoints::release("migrate.after_litellm_key_generate");  // the first holder wakes up
      first.join();
    } catch (const std::exception& e) {
      worker_error = e.what();
      failpoints::release_all();
    }
  });
  worker.join();
  BOOST_TEST(worker_error.empty(), worker_error);
  BOOST_TEST(second_ok);
  BOOST_TEST(first_error.find("fencing token") != std::string::npos);
  BOOST_TEST(fixture.pg()
                 .exec("SELECT count(*) FROM org WHERE owner_user_id = $1", {user.user_id})
                 .integer(0, 0) == 1);
}

BOOST_AUTO_TEST_CASE(redis_down_is_a_typed_error_and_nothing_migrates) {
  test::MigrationFixture fixture(6);
  auto& shared = test::shared_services();
  services::ServicesOptions options;
  options.pg_url = shared.admin_url().full();  // only Redis is our own here
  auto own_redis = services::Services::start(options);
  const auto url = own_redis->redis_url();
  auto client = fixture.connect();
  client->redis = io::RedisClient::connect({url.host, url.port, "", 0, {}}, io::after(2s));
  own_redis->embedded_redis()->stop();

  pqxx::connection observer(fixture.database_url().conninfo());
  const auto digest = world::database_digest(observer);
  auto ctx = client->context(1);
  const auto& user = fixture.plain_user();
  BOOST_CHECK_THROW(migrator::make_reference_migrator()->get_user_verified(ctx, user.user_id, {}),
                    io::RedisUnavailable);
  BOOST_TEST(world::database_digest(observer) == digest);
  BOOST_TEST(fixture.litellm().ledger().requests().empty());
  // The naive variant "degrades gracefully" into an unlocked migration.
  auto naive_ctx = client->context(1);
  BOOST_CHECK_NO_THROW(
      migrator::make_seed_naive_migrator()->get_user_verified(naive_ctx, user.user_id, {}));
  BOOST_TEST(world::database_digest(observer) != digest);
}

BOOST_AUTO_TEST_CASE(a_held_lock_is_waited_for_within_a_bound) {
  test::MigrationFixture fixture(6);
  auto lock = test::MigrationFixture::short_lock();
  lock.ttl = 5s;
  lock.max_wait = 150ms;
  auto holder = fixture.connect(lock);
  auto waiter = fixture.connect(lock);
  migrator::RedisLock held(holder->redis, lock, Rng(9));
  const auto& user = fixture.plain_user();
  const auto lease = held.acquire(user.user_id);
  auto ctx = waiter->context(1);
  BOOST_CHECK_THROW(migrator::make_reference_migrator()->get_user_verified(ctx, user.user_id, {}),
                    migrator::LockTimeout);
  BOOST_TEST(ctx.stats.lock_waits > 0);
  BOOST_TEST(fixture.pg().exec("SELECT count(*) FROM org").integer(0, 0) == 0);
  BOOST_TEST(held.release(lease));
  BOOST_TEST(migrator::make_reference_migrator()
                 ->get_user_verified(ctx, user.user_id, {})
                 .personal_org.has_value());
}

// The waits below are long (a 10 s slice and lease, a 3 s bound) and the
// release comes after 50 ms: a waiter that polled blindly, or missed the
// release's notification, would sleep past its bound and throw LockTimeout.
// What each waiter returns shows it was woken by the release.
namespace {
migrator::LockOptions long_waits() {
  auto lock = test::MigrationFixture::short_lock();
  lock.ttl = 10s;
  lock.wait_slice = 10s;
  lock.max_wait = 3s;
  return lock;
}

struct WaitOutcome {
  std::optional<migrator::LockLease> lease;
  int waits = 0;
  std::string error;
};

/// `holder` holds the lock of `user`; a waiter fiber waits for it while the
/// main fiber releases it after 50 ms, having set `*done` first if given.
WaitOutcome wait_through_a_release(test::MigrationFixture& fixture, const std::string& user,
                                   bool done_before_release) {
  WaitOutcome outcome;
  std::thread runner([&] {
    try {
      io::use_reactor_scheduler();
      const auto lock = long_waits();
      auto holder_client = fixture.connect(lock);
      auto waiter_client = fixture.connect(lock);
      migrator::RedisLock holder(holder_client->redis, lock, Rng(3));
      migrator::RedisLock waiter(waiter_client->redis, lock, Rng(4));
      const auto lease = holder.acquire(user);
      bool done = false;
      boost::fibers::fiber waiting([&] {
        try {
          outcome.lease = waiter.acquire_unless(
              user, [&] { return done; }, &outcome.waits);
        } catch (const std::exception& e) {
          outcome.error = e.what();
        }
      });
      boost::this_fiber::sleep_for(50ms);
      done = done_before_release;
      if (!holder.release(lease)) outcome.error = "the holder lost its lease";
      waiting.join();
      if (outcome.lease) waiter.release(*outcome.lease);
    } catch (const std::exception& e) {
      outcome.error = e.what();
    }
  });
  runner.join();
  return outcome;
}
}  // namespace

BOOST_AUTO_TEST_CASE(a_release_wakes_the_waiter_who_then_holds_the_lock) {
  test::MigrationFixture fixture(4);
  const auto outcome = wait_through_a_release(fixture, "user-woken", false);
  BOOST_TEST(outcome.error.empty(), outcome.error);
  BOOST_TEST(outcome.lease.has_value());
  BOOST_TEST(outcome.waits == 1);  // one held attempt, then the grant after the wake
}

BOOST_AUTO_TEST_CASE(a_waiter_whose_work_was_done_meanwhile_returns_without_the_lock) {
  test::MigrationFixture fixture(4);
  const auto outcome = wait_through_a_release(fixture, "user-done", true);
  BOOST_TEST(outcome.error.empty(), outcome.error);
  BOOST_TEST(!outcome.lease.has_value());
  BOOST_TEST(outcome.waits == 1);
}

BOOST_AUTO_TEST_CASE(a_lookup_waiting_on_a_migration_is_served_by_the_fast_path) {
  // 64 lookups of one unmigrated user in one worker: one migrates, the
  // others wait once and are then served by the fast path, not by the lock
  // in turn (which would make some wait many times).
  test::MigrationFixture fixture(4);
  const auto& user = fixture.plain_user();
  std::vector<int> waits(64, -1);
  std::string error;
  std::thread runner([&] {
    try {
      io::use_reactor_scheduler();
      std::vector<std::unique_ptr<test::MigrationFixture::Client>> clients;
      for (std::size_t i = 0; i < waits.size(); ++i)
        clients.push_back(fixture.connect(long_waits()));
      auto migrator = migrator::make_reference_migrator();
      std::vector<boost::fibers::fiber> fibers;
      for (std::size_t i = 0; i < waits.size(); ++i) {
        fibers.emplace_back([&, i] {
          auto ctx = clients[i]->context(i + 1);
          try {
            migrator::LookupOptions options;
            options.fast_path = true;
            migrator->get_user_verified(ctx, user.user_id, options);
          } catch (const std::exception& e) {
            error = e.what();
          }
          waits[i] = ctx.stats.lock_waits;
        });
      }
      for (auto& f : fibers) f.join();
    } catch (const std::exception& e) {
      error = e.what();
    }
  });
  runner.join();
  BOOST_TEST(error.empty(), error);
  BOOST_TEST(*std::max_element(waits.begin(), waits.end()) <= 1);
  BOOST_TEST(fixture.pg()
                 .exec("SELECT count(*) FROM org WHERE owner_user_id = $1", {user.user_id})
                 .integer(0, 0) == 1);
}

BOOST_AUTO_TEST_CASE(release_never_deletes_a_lock_someone_else_holds_and_tokens_increase) {
  test::MigrationFixture fixture(6);
  auto lock = test::MigrationFixture::short_lock();
  lock.ttl = 100ms;
  // b's lease outlives the checks below however slow the machine is: only
  // a's is meant to lapse.
  auto long_lock = lock;
  long_lock.ttl = 30s;
  auto a_client = fixture.connect(lock);
  auto b_client = fixture.connect(long_lock);
  migrator::RedisLock a(a_client->redis, lock, Rng(1)), b(b_client->redis, long_lock, Rng(2));
  const auto first = a.acquire("user-x");
  std::this_thread::sleep_for(150ms);  // a's lease lapses
  const auto second = b.acquire("user-x");
  BOOST_TEST(second.fencing_token > first.fencing_token);
  BOOST_TEST(first.owner_token != second.owner_token);
  BOOST_TEST(!a.release(first));  // too late: the lock is b's now...
  BOOST_TEST(!a_client->redis.command({"GET", lock.key_prefix + "user-x"})
                  .is_nil());  // ...and b still has it
  BOOST_TEST(b.release(second));
  BOOST_TEST(a_client->redis.command({"GET", lock.key_prefix + "user-x"}).is_nil());
}

BOOST_AUTO_TEST_CASE(a_migrator_session_outlives_no_lease_and_plans_a_statement_once) {
  test::MigrationFixture fixture(2);
  auto lock = test::MigrationFixture::short_lock();
  lock.ttl = 4321ms;
  auto client = fixture.connect(lock);
  // A transaction idle past the lease is ended by the server.
  BOOST_TEST(client->pg.exec("SHOW idle_in_transaction_session_timeout").text(0, 0) == "4321ms");
  // A prepared statement runs its generic plan from the first execution
  // (the plan names $1, not the value): no session replans a lookup five
  // times before settling.
  client->pg.exec("PREPARE by_user(text) AS SELECT username FROM user_settings WHERE user_id = $1");
  std::string plan;
  const auto explained = client->pg.exec("EXPLAIN EXECUTE by_user('no-such-user')");
  for (int row = 0; row < explained.rows(); ++row) plan += std::string(explained.text(row, 0));
  BOOST_TEST(plan.find("$1") != std::string::npos, plan);
  BOOST_TEST(plan.find("no-such-user") == std::string::npos, plan);
}

BOOST_AUTO_TEST_CASE(lock_scripts_load_once_a_process_and_again_after_the_server_forgets_them) {
  test::MigrationFixture fixture(2);
  auto a_client = fixture.connect();
  auto b_client = fixture.connect();
  const auto address_of = [](io::RedisClient& redis) {
    const std::string info = redis.command({"CLIENT", "INFO"}).text;
    const auto start = info.find("addr=") + 5;
    return info.substr(start, info.find(' ', start) - start);
  };
  const std::string a_address = address_of(a_client->redis);
  const std::string b_address = address_of(b_client->redis);
  // MONITOR names the connection of every command, so the counts below are
  // this case's whatever else the server runs.
  auto monitor =
      services::RedisMonitor::connect(test::shared_services().redis_url(), std::chrono::seconds(5));
  a_client->redis.command({"SCRIPT", "FLUSH"});  // as a restarted server would
  const auto lock = test::MigrationFixture::short_lock();
  for (int i = 0; i < 2; ++i) {
    migrator::RedisLock a(a_client->redis, lock, Rng(i));
    BOOST_TEST(a.release(a.acquire("script-user")));
  }
  migrator::RedisLock b(b_client->redis, lock, Rng(7));
  BOOST_TEST(b.release(b.acquire("script-user")));
  a_client->redis.command({"ECHO", "lock-scripts-end"});

  std::map<std::string, int> loads, calls;  // by connection
  for (bool ended = false; !ended;) {
    const auto line = monitor.next_line(std::chrono::seconds(5));
    BOOST_REQUIRE_MESSAGE(line, "MONITOR showed no end marker within 5 s");
    const auto parsed = services::parse_monitor_line(*line);
    if (!parsed || parsed->args.empty()) continue;
    std::string name = parsed->args[0];
    std::transform(name.begin(), name.end(), name.begin(), ::tolower);
    if (name == "echo") ended = parsed->source == a_address;
    if (name == "script" && parsed->args.size() > 1 && parsed->args[1] == "LOAD") {
      ++loads[parsed->source];
    }
    if (name == "evalsha") ++calls[parsed->source];
  }
  // After the flush, the acquire script and the release script are loaded
  // once each, by whichever connection first needs them; every later lock,
  // on any connection of the process, only calls them.
  BOOST_TEST(loads[a_address] == 2);
  BOOST_TEST(loads[b_address] == 0);
  BOOST_TEST(calls[a_address] >= 4);
  BOOST_TEST(calls[b_address] == 2);
}

BOOST_AUTO_TEST_SUITE_END()
