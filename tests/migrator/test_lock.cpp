// The lock and the fence: a paused holder cannot commit stale work, Redis
// down is an error rather than an unlocked migration, waits are bounded.
#include <thread>

#include <boost/fiber/all.hpp>
#include <boost/test/unit_test.hpp>
#include <pqxx/pqxx>

#include "migrator/failpoints/registry.hpp"
#include "migrator/io/reactor.hpp"
#include "migrator/redis_lock.hpp"
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
      auto b = fixture.connect(lock);
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

BOOST_AUTO_TEST_CASE(release_never_deletes_a_lock_someone_else_holds_and_tokens_increase) {
  test::MigrationFixture fixture(6);
  auto lock = test::MigrationFixture::short_lock();
  lock.ttl = 100ms;
  auto a_client = fixture.connect(lock);
  auto b_client = fixture.connect(lock);
  migrator::RedisLock a(a_client->redis, lock, Rng(1)), b(b_client->redis, lock, Rng(2));
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

BOOST_AUTO_TEST_SUITE_END()
