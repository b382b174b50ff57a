// The order of a failing replay's steps across operations, as interleaving
// pairs: one pair per turn from one operation to another, first firings
// only, operations outside the story left out; the pairs read back as a
// valid `interleaving` option.
#include "shrink/step_order.hpp"

#include <ostream>

#include <boost/test/unit_test.hpp>

#include "engine/interleaving.hpp"

using namespace orgquake;

namespace orgquake::engine {
std::ostream& boost_test_print_type(std::ostream& out, const HappensBefore& pair) {
  return out << pair.before << " -> " << pair.after;
}
}  // namespace orgquake::engine

namespace {

void fire(history::History& history, std::int64_t ms, std::int64_t op, std::string failpoint) {
  history::Event e;
  e.type = history::EventType::failpoint;
  e.time_ns = ms * 1'000'000;
  e.worker = static_cast<int>(op);
  e.client = 0;
  e.op = op;
  e.kind = std::move(failpoint);
  e.value = {{"action", "off"}};
  history.add(std::move(e));
}

}  // namespace

BOOST_AUTO_TEST_CASE(each_turn_between_operations_becomes_one_pair) {
  history::History history;
  fire(history, 1, 3, "lock.before_acquire");
  fire(history, 2, 3, "lock.after_acquire");
  fire(history, 3, 5, "lock.before_acquire");             // turn: 3 -> 5
  fire(history, 4, 9, "lock.before_acquire");             // not in the story
  fire(history, 5, 3, "migrate.after_litellm_key_move");  // turn: 5 -> 3
  fire(history, 6, 3, "migrate.after_litellm_key_move");  // a second firing: not a step
  fire(history, 7, 3, "migrate.after_commit");
  fire(history, 8, 5, "lock.after_acquire");  // turn: 3 -> 5
  const auto pairs = shrink::turn_pairs(history, {3, 5});
  const std::vector<engine::HappensBefore> expected = {
      {"lock.after_acquire@3", "lock.before_acquire@5"},
      {"lock.before_acquire@5", "migrate.after_litellm_key_move@3"},
      {"migrate.after_commit@3", "lock.after_acquire@5"}};
  BOOST_TEST(pairs == expected, boost::test_tools::per_element());
  const auto text = shrink::interleaving_text(pairs);
  BOOST_TEST(text ==
             "lock.after_acquire@3 -> lock.before_acquire@5; lock.before_acquire@5 -> "
             "migrate.after_litellm_key_move@3; migrate.after_commit@3 -> lock.after_acquire@5");
  BOOST_TEST(engine::parse_interleaving(text) == expected, boost::test_tools::per_element());
  BOOST_TEST(shrink::turn_pairs(history, {3}).empty());  // one operation takes no turns
}
