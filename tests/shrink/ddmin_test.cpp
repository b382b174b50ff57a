#include "shrink/ddmin.hpp"

#include <algorithm>
#include <set>

#include <boost/test/unit_test.hpp>

using orgquake::shrink::ddmin;
using orgquake::shrink::Subset;

namespace {

Subset range(std::size_t n) {
  Subset all(n);
  for (std::size_t i = 0; i < n; ++i) all[i] = i;
  return all;
}

bool has(const Subset& s, std::size_t e) {
  return std::binary_search(s.begin(), s.end(), e);
}

const auto never = [] { return false; };

}  // namespace

BOOST_AUTO_TEST_CASE(keeps_exactly_the_elements_the_failure_needs) {
  // Fails when both 3 and 11 are there: the story needs those two only.
  int calls = 0;
  std::set<Subset> seen;
  const auto result = ddmin(
      range(16),
      [&](const Subset& s) {
        ++calls;
        BOOST_TEST(seen.insert(s).second, "a subset was tested twice");
        return has(s, 3) && has(s, 11);
      },
      never);
  BOOST_TEST(result.kept == (Subset{3, 11}));
  BOOST_TEST(result.one_minimal);
  BOOST_TEST(result.tests == calls);
}

BOOST_AUTO_TEST_CASE(a_failure_that_needs_nothing_shrinks_to_nothing) {
  const auto result = ddmin(
      range(8), [](const Subset&) { return true; }, never);
  BOOST_TEST(result.kept.empty());
  BOOST_TEST(result.tests == 1);
}

BOOST_AUTO_TEST_CASE(the_result_is_one_minimal) {
  // Fails when at least three of the even elements are there: ddmin may
  // keep any three, but removing any one of them must make it pass.
  const auto fails = [](const Subset& s) {
    return std::count_if(s.begin(), s.end(), [](std::size_t e) { return e % 2 == 0; }) >= 3;
  };
  const auto result = ddmin(range(20), fails, never);
  BOOST_TEST(result.one_minimal);
  BOOST_TEST(fails(result.kept));
  BOOST_TEST(result.kept.size() == 3u);
  for (std::size_t i = 0; i < result.kept.size(); ++i) {
    Subset smaller = result.kept;
    smaller.erase(smaller.begin() + static_cast<long>(i));
    BOOST_TEST(!fails(smaller));
  }
}

BOOST_AUTO_TEST_CASE(a_budget_that_runs_out_keeps_the_smallest_failing_subset_so_far) {
  int budget = 4;
  const auto result = ddmin(
      range(64), [](const Subset& s) { return has(s, 40); }, [&] { return budget-- <= 0; });
  BOOST_TEST(!result.one_minimal);
  BOOST_TEST(result.tests == 4);
  BOOST_TEST(has(result.kept, 40));
  BOOST_TEST(result.kept.size() < 64u);
}

BOOST_AUTO_TEST_CASE(one_element_that_is_needed_stays) {
  const auto result = ddmin(
      {5}, [](const Subset& s) { return has(s, 5); }, never);
  BOOST_TEST(result.kept == (Subset{5}));
  BOOST_TEST(result.one_minimal);
}
