#define BOOST_TEST_MODULE orgquake history
#include "history/history.hpp"

#include <boost/test/unit_test.hpp>

using namespace orgquake;
using history::Event;
using history::EventType;

namespace {

Event event(EventType type, std::int64_t time_ns, std::string kind = {}) {
  Event e;
  e.type = type;
  e.time_ns = time_ns;
  e.kind = std::move(kind);
  return e;
}

std::vector<std::string> order(const history::History& h) {
  std::vector<std::string> names;
  for (const auto& e : h.events())
    names.push_back(std::string(history::name_of(e.type)) + "@" + std::to_string(e.time_ns));
  return names;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(held_phase_marker)

// The run phase is announced before its workers connect; its marker takes
// the time the run first acts, so that what follows it is the run.
BOOST_AUTO_TEST_CASE(a_released_marker_takes_the_release_time) {
  history::History h;
  h.hold(event(EventType::phase, 100, "run"));
  BOOST_TEST(h.events().empty());
  h.release(250);
  h.add(event(EventType::invoke, 260));
  h.finish();
  BOOST_TEST(order(h) == (std::vector<std::string>{"phase@250", "invoke@260"}),
             boost::test_tools::per_element());
}

// A fault recorded before the first go still belongs to the run: the marker
// goes first, at the fault's time.
BOOST_AUTO_TEST_CASE(the_next_event_releases_it_first) {
  history::History h;
  h.hold(event(EventType::phase, 100, "run"));
  h.add(event(EventType::fault, 180, "pause"));
  h.release(300);  // nothing left to release
  h.finish();
  BOOST_TEST(order(h) == (std::vector<std::string>{"phase@180", "fault@180"}),
             boost::test_tools::per_element());
}

// An event whose own clock reads earlier than the announcement stays before
// the marker, which never moves back in time.
BOOST_AUTO_TEST_CASE(it_never_goes_back_before_its_announcement) {
  history::History h;
  h.hold(event(EventType::phase, 100, "run"));
  h.add(event(EventType::redis, 40));
  h.finish();
  BOOST_TEST(order(h) == (std::vector<std::string>{"redis@40", "phase@100"}),
             boost::test_tools::per_element());
}

// A run in which nothing happened still has its phase, at its own time; a
// later phase releases an earlier one.
BOOST_AUTO_TEST_CASE(finish_and_a_second_hold_release_it) {
  history::History h;
  h.hold(event(EventType::phase, 100, "run"));
  h.hold(event(EventType::phase, 500, "heal"));
  h.finish();
  BOOST_TEST(order(h) == (std::vector<std::string>{"phase@500", "phase@500"}),
             boost::test_tools::per_element());
  BOOST_TEST(h.events()[0].kind == "run");
  BOOST_TEST(h.events()[1].kind == "heal");
}

BOOST_AUTO_TEST_SUITE_END()
