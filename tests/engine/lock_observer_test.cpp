#define BOOST_TEST_MODULE orgquake lock observer
// The lock observer's reading of Redis's MONITOR stream, from lines as
// Redis 7 prints them: parsing, the lock-key filter, attribution to a named
// client, and a script's commands carried to its caller. No server.
#include "engine/lock_observer.hpp"

#include <boost/test/unit_test.hpp>

#include "services/redis_monitor.hpp"
#include "worker/worker_protocol.hpp"

using namespace orgquake;

namespace {

services::MonitorLine line(std::string_view text) {
  const auto parsed = services::parse_monitor_line(text);
  BOOST_REQUIRE_MESSAGE(parsed.has_value(), "did not parse: " << text);
  return *parsed;
}

const std::string prefix = "orgquake:run:t3:lock:user:";

}  // namespace

BOOST_AUTO_TEST_CASE(a_monitor_line_is_parsed_with_its_escapes) {
  const auto parsed =
      line(R"(1796253340.530711 [0 127.0.0.1:51302] "SET" "k\"1" "a\x00b\\" "NX" "PX" "1000")");
  BOOST_TEST(parsed.server_time_us == 1796253340530711);
  BOOST_TEST(parsed.source == "127.0.0.1:51302");
  BOOST_REQUIRE_EQUAL(parsed.args.size(), 6u);
  BOOST_TEST(parsed.args[1] == "k\"1");
  BOOST_TEST(parsed.args[2] == std::string("a\0b\\", 4));
  BOOST_TEST(line(R"(1.000001 [0 lua] "DEL" "k")").source == "lua");
}

BOOST_AUTO_TEST_CASE(what_is_not_a_monitor_line_is_refused) {
  for (const auto* bad :
       {"OK", "", "1796253340 [0 1.2.3.4:5] \"GET\"", "1796253340.530711 [0 1.2.3.4:5] \"GET",
        "1.000001 [0 x] ", "1.000001 [0x] \"GET\""}) {
    BOOST_TEST(!services::parse_monitor_line(bad).has_value(), bad);
  }
}

BOOST_AUTO_TEST_CASE(client_names_round_trip_and_others_are_refused) {
  BOOST_TEST(worker::connection_name(3, 12) == "orgquake:w3:c12");
  const auto parsed = worker::parse_connection_name("orgquake:w3:c12");
  BOOST_REQUIRE(parsed.has_value());
  BOOST_TEST(parsed->first == 3);
  BOOST_TEST(parsed->second == 12);
  for (const auto* other : {"orgquake:w3", "orgquake:w3:c", "orgquake:wx:c1", "orgquake:w3:c1x",
                            "w3:c1", "orgquake:w-1:c0"}) {
    BOOST_TEST(!worker::parse_connection_name(other).has_value(), other);
  }
}

BOOST_AUTO_TEST_CASE(client_list_gives_each_address_its_name) {
  const auto names = engine::parse_client_list(
      "id=3 addr=127.0.0.1:5000 laddr=127.0.0.1:6379 fd=8 name=orgquake:w0:c1 age=0\n"
      "id=4 addr=127.0.0.1:5001 laddr=127.0.0.1:6379 fd=9 name= age=0\n");
  BOOST_REQUIRE_EQUAL(names.size(), 1u);
  BOOST_TEST(names.at("127.0.0.1:5000") == "orgquake:w0:c1");
}

BOOST_AUTO_TEST_CASE(only_writes_to_the_trials_lock_keys_become_events) {
  engine::LockCommandFilter filter(prefix);
  filter.know_names({{"127.0.0.1:5000", "orgquake:w2:c1"}});
  // Another trial's key, a read, and a fencing counter: nothing.
  BOOST_TEST(
      filter
          .take(line(R"(1.000001 [0 127.0.0.1:5000] "SET" "orgquake:run:t4:lock:user:u1" "x")"), 1)
          .empty());
  BOOST_TEST(
      filter.take(line(R"(1.000002 [0 127.0.0.1:5000] "GET" "orgquake:run:t3:lock:user:u1")"), 2)
          .empty());
  BOOST_TEST(
      filter.take(line(R"(1.000003 [0 127.0.0.1:5000] "INCR" "orgquake:run:t3:fence:user:u1")"), 3)
          .empty());

  const auto set = filter.take(
      line(
          R"(1.000004 [0 127.0.0.1:5000] "set" "orgquake:run:t3:lock:user:u1" "tok" "NX" "PX" "1000")"),
      4);
  BOOST_REQUIRE_EQUAL(set.size(), 1u);
  BOOST_TEST((set[0].type == history::EventType::redis));
  BOOST_TEST(set[0].kind == "set");
  BOOST_TEST(set[0].user == "u1");
  BOOST_TEST(set[0].time_ns == 4);
  BOOST_TEST(set[0].value.at("worker") == 2);
  BOOST_TEST(set[0].value.at("client") == 1);
  BOOST_TEST(set[0].value.at("conn") == "127.0.0.1:5000");
  BOOST_TEST(!set[0].value.contains("script"));

  const auto del = filter.take(
      line(
          R"(1.000005 [0 127.0.0.1:6000] "DEL" "orgquake:run:t3:lock:user:u1" "other" "orgquake:run:t3:lock:user:u2")"),
      5);
  BOOST_REQUIRE_EQUAL(del.size(), 2u);
  BOOST_TEST(del[1].user == "u2");
  BOOST_TEST(!del[0].value.contains("worker"));  // an unnamed connection
}

BOOST_AUTO_TEST_CASE(a_scripts_commands_belong_to_its_caller_with_its_arguments) {
  engine::LockCommandFilter filter(prefix);
  // Named in the stream itself, then a compare-and-delete by EVALSHA.
  BOOST_TEST(
      filter.take(line(R"(1.000001 [0 127.0.0.1:5000] "CLIENT" "SETNAME" "orgquake:w0:c0")"), 1)
          .empty());
  BOOST_TEST(
      filter
          .take(
              line(
                  R"(1.000002 [0 127.0.0.1:5000] "EVALSHA" "abc" "1" "orgquake:run:t3:lock:user:u1" "tok")"),
              2)
          .empty());
  BOOST_TEST(
      filter.take(line(R"(1.000002 [0 lua] "GET" "orgquake:run:t3:lock:user:u1")"), 2).empty());
  const auto del = filter.take(line(R"(1.000002 [0 lua] "DEL" "orgquake:run:t3:lock:user:u1")"), 2);
  BOOST_REQUIRE_EQUAL(del.size(), 1u);
  BOOST_TEST(del[0].value.at("conn") == "127.0.0.1:5000");
  BOOST_TEST(del[0].value.at("worker") == 0);
  BOOST_TEST(del[0].value.at("script").dump() ==
             R"(["abc","1","orgquake:run:t3:lock:user:u1","tok"])");
  // The next command of a client ends the script.
  filter.take(line(R"(1.000003 [0 127.0.0.1:5001] "PING")"), 3);
  const auto after =
      filter.take(line(R"(1.000004 [0 lua] "DEL" "orgquake:run:t3:lock:user:u1")"), 4);
  BOOST_REQUIRE_EQUAL(after.size(), 1u);
  BOOST_TEST(after[0].value.at("conn") == "");
}
