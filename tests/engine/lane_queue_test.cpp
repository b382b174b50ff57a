#define BOOST_TEST_MODULE orgquake lane queue
#include <filesystem>
#include <unistd.h>

#include <boost/test/unit_test.hpp>

#include "engine/parallel_run.hpp"

using namespace orgquake;
namespace fs = std::filesystem;

namespace {

struct ClaimsDir {
  fs::path path;
  ClaimsDir() {
    path = fs::temp_directory_path() / ("orgquake-lane-queue-" + std::to_string(::getpid()));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~ClaimsDir() { fs::remove_all(path); }
};

// Two trials each of three scenarios, interleaved as the run's queue is.
std::vector<engine::PlannedTrialInfo> queue() {
  return {{0, "alpha", 1}, {2, "beta", 2}, {4, "gamma", 3},
          {1, "alpha", 4}, {3, "beta", 5}, {5, "gamma", 6}};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lane_queue)

// Until every scenario has a time, the queue's order; then the scenario that
// took longest first, so that the run does not end on a long trial.
BOOST_AUTO_TEST_CASE(queue_order_first_then_the_longest_scenario) {
  ClaimsDir claims;
  engine::LaneQueue lane(claims.path, 1, queue());
  BOOST_TEST(lane.next().value_or(-1) == 0);
  lane.finished("alpha", 1.0);
  BOOST_TEST(lane.next().value_or(-1) == 2);
  lane.finished("beta", 3.0);
  BOOST_TEST(lane.next().value_or(-1) == 4);  // gamma has no time yet: before alpha's second
  lane.finished("gamma", 2.0);
  BOOST_TEST(lane.next().value_or(-1) == 3);  // beta took longest
  BOOST_TEST(lane.next().value_or(-1) == 5);
  BOOST_TEST(lane.next().value_or(-1) == 1);
  BOOST_TEST(!lane.next().has_value());
}

// A time another lane wrote counts, and the longest time of a scenario stays.
BOOST_AUTO_TEST_CASE(lanes_share_times_and_never_share_a_trial) {
  ClaimsDir claims;
  engine::LaneQueue one(claims.path, 1, queue());
  engine::LaneQueue two(claims.path, 2, queue());

  BOOST_TEST(one.next().value_or(-1) == 0);
  BOOST_TEST(two.next().value_or(-1) == 2);
  BOOST_TEST(one.next().value_or(-1) == 4);
  two.finished("beta", 1.0);
  one.finished("gamma", 2.0);
  one.finished("alpha", 5.0);
  two.finished("alpha", 0.5);  // shorter than the time alpha already has

  BOOST_TEST(two.next().value_or(-1) == 1);  // alpha: 5 s, by the other lane's trial
  BOOST_TEST(one.next().value_or(-1) == 5);  // gamma: 2 s
  BOOST_TEST(two.next().value_or(-1) == 3);
  BOOST_TEST(!one.next().has_value());
  BOOST_TEST(!two.next().has_value());
}

BOOST_AUTO_TEST_SUITE_END()
