#define BOOST_TEST_MODULE orgquake core
#include <set>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "core/one_line.hpp"
#include "core/random.hpp"
#include "services/postgres_url.hpp"
#include "services/redis_url.hpp"
#include "world/world.hpp"

using namespace orgquake;

BOOST_AUTO_TEST_SUITE(messages)

// libpq ends its messages with a newline and splits DETAIL and HINT over
// lines; orgquake prints every error as one line.
BOOST_AUTO_TEST_CASE(one_line_folds_inner_newlines_and_drops_trailing_ones) {
  BOOST_TEST(one_line("ERROR:  boom\nDETAIL:  why\n") == "ERROR:  boom DETAIL:  why");
  BOOST_TEST(one_line("plain") == "plain");
  BOOST_TEST(one_line(" \n \n") == "");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(random_streams)

BOOST_AUTO_TEST_CASE(same_seed_same_sequence_and_derived_streams_differ) {
  Rng a(7), b(7), c(8);
  for (int i = 0; i < 100; ++i) BOOST_TEST(a.next() == b.next());
  BOOST_TEST(Rng(7).next() != c.next());
  Rng x = Rng(7).derive("world"), y = Rng(7).derive("faults");
  BOOST_TEST(x.next() != y.next());
  BOOST_TEST(Rng(7).derive("world").next() == Rng(7).derive("world").next());
}

BOOST_AUTO_TEST_CASE(below_stays_in_range_and_covers_it) {
  Rng rng(1);
  std::set<std::uint64_t> seen;
  for (int i = 0; i < 10000; ++i) {
    auto v = rng.below(7);
    BOOST_REQUIRE(v < 7);
    seen.insert(v);
  }
  BOOST_TEST(seen.size() == 7u);
  int heads = 0;
  for (int i = 0; i < 10000; ++i) heads += rng.chance(0.5) ? 1 : 0;
  BOOST_TEST(heads > 4500);
  BOOST_TEST(heads < 5500);
}

BOOST_AUTO_TEST_CASE(stable_hash_is_stable_across_builds) {
  // A changed hash function would silently invalidate every cache key and
  // world digest, so its value is pinned.
  BOOST_TEST(StableHash{}.add("orgquake").hex() == "90c28f9fd52394ca");
  BOOST_TEST(StableHash{}.add_field("ab").add_field("c").hex() !=
             StableHash{}.add_field("a").add_field("bc").hex());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(urls)

BOOST_AUTO_TEST_CASE(postgres_url_round_trips_and_switches_database) {
  auto url =
      services::PgUrl::parse("postgresql://app:s%40cret@db.example:6543/orgquake?sslmode=disable");
  BOOST_TEST(url.host() == "db.example");
  BOOST_TEST(url.port() == "6543");
  BOOST_TEST(url.database() == "orgquake");
  BOOST_TEST(url.display() == "postgresql://app:***@db.example:6543/orgquake?sslmode=disable");
  BOOST_TEST(url.with_database("trial_1").full() ==
             "postgresql://app:s%40cret@db.example:6543/trial_1?sslmode=disable");
  BOOST_TEST(url.conninfo().find("password='s@cret'") != std::string::npos);
}

BOOST_DATA_TEST_CASE(malformed_postgres_urls_are_rejected_in_one_line,
                     boost::unit_test::data::make({"mysql://x@h/db", "postgresql://h:99999/db",
                                                   "postgresql://h:port/db", "localhost:5432",
                                                   "postgresql://h/db?nosuchoption=1", ""}),
                     text) {
  try {
    services::PgUrl::parse(text);
    BOOST_FAIL("accepted " << text);
  } catch (const UsageError& e) {
    const std::string message = e.what();
    BOOST_TEST(message.find("bad PostgreSQL URL") == 0u);
    BOOST_TEST(message.find('\n') == std::string::npos);
  }
}

BOOST_AUTO_TEST_CASE(redis_url_parts) {
  auto url = services::RedisUrl::parse("redis://:pw@10.1.2.3:6380/4");
  BOOST_TEST(url.host == "10.1.2.3");
  BOOST_TEST(url.port == 6380);
  BOOST_TEST(url.password == "pw");
  BOOST_TEST(url.database == 4);
  BOOST_TEST(url.display() == "redis://:***@10.1.2.3:6380/4");
  BOOST_TEST(services::RedisUrl::parse("redis://[::1]:7000").host == "::1");
  BOOST_TEST(services::RedisUrl::parse("redis://cache").port == 6379);
}

BOOST_DATA_TEST_CASE(malformed_redis_urls_are_rejected,
                     boost::unit_test::data::make({"http://h:6379", "redis://:6379", "redis://h:0",
                                                   "redis://h:70000", "redis://h/16", "redis://h/x",
                                                   "redis://[::1"}),
                     text) {
  BOOST_CHECK_THROW(services::RedisUrl::parse(text), UsageError);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(fixture_world)

BOOST_AUTO_TEST_CASE(same_seed_same_world_other_seed_other_world) {
  const auto a = world::generate({42, 300});
  const auto b = world::generate({42, 300});
  const auto c = world::generate({43, 300});
  BOOST_TEST(a.digest() == b.digest());
  BOOST_TEST(a.digest() != c.digest());
  BOOST_TEST(a.users[17].user_id == b.users[17].user_id);
  BOOST_TEST(a.users[17].user_id != c.users[17].user_id);
}

BOOST_AUTO_TEST_CASE(ids_usernames_and_keys_are_unique) {
  const auto w = world::generate({5, 2000});
  std::set<std::string> ids, names, keys, customers;
  for (const auto& u : w.users) {
    ids.insert(u.user_id);
    names.insert(u.username);
    for (const auto& k : u.keys) keys.insert(k.key);
    if (u.stripe_customer_id) customers.insert(*u.stripe_customer_id);
    BOOST_TEST(u.user_id.size() == 36u);
    BOOST_TEST(u.spend <= u.max_budget);
    BOOST_TEST(u.llm_api_key.value_or("") == u.keys.front().key);
  }
  BOOST_TEST(ids.size() == w.users.size());
  BOOST_TEST(names.size() == w.users.size());
  BOOST_TEST(
      customers.size() ==
      static_cast<std::size_t>(w.users.size() - w.count(world::EdgeCase::no_stripe_customer)));
  std::size_t key_count = 0;
  for (const auto& u : w.users) key_count += u.keys.size();
  BOOST_TEST(keys.size() == key_count);
}

BOOST_DATA_TEST_CASE(every_edge_case_appears_even_in_a_small_world,
                     boost::unit_test::data::make({6, 10, 1000}), users) {
  const auto w = world::generate({99, users});
  for (const auto& info : world::all_edge_cases()) {
    BOOST_TEST_CONTEXT("edge case " << info.name) {
      BOOST_TEST(w.count(info.flag) >= 1);
    }
  }
  for (const auto& u : w.users) {
    BOOST_TEST(!(has(u.edge_cases, world::EdgeCase::no_stripe_customer) &&
                 u.stripe_subscription_id.has_value()));
    if (has(u.edge_cases, world::EdgeCase::zero_budget)) BOOST_TEST(u.remaining_credits() == 0.0);
    if (has(u.edge_cases, world::EdgeCase::two_keys)) BOOST_TEST(u.keys.size() == 2u);
    if (has(u.edge_cases, world::EdgeCase::expired_key)) BOOST_TEST(u.keys.front().blocked);
    if (has(u.edge_cases, world::EdgeCase::quoted_unicode_name)) {
      BOOST_TEST((u.username.find('\'') != std::string::npos ||
                  u.username.find('"') != std::string::npos));
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
