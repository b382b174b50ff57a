#pragma once

// Delta debugging (Zeller and Hildebrandt, "Simplifying and Isolating
// Failure-Inducing Input", TSE 2002): the smallest subset of a failing set
// of elements that still fails, found by testing chunks and their
// complements at ever finer granularity. When it runs to the end, the
// result is 1-minimal: removing any one element makes the test pass.
//
// The elements are opaque indexes; the caller says what a subset means (a
// set of faults, of workers' operations) and how to test it. Tests are
// remembered, so no subset is tried twice.

#include <cstddef>
#include <functional>
#include <vector>

namespace orgquake::shrink {

using Subset = std::vector<std::size_t>;  ///< sorted element indexes

struct DdminResult {
  Subset kept;
  /// Ran to the end at single-element granularity (false: stopped by the budget).
  bool one_minimal = false;
  int tests = 0;  ///< subsets actually tested (not remembered)
};

/// The test: whether `subset` still fails. `out_of_budget` is asked before
/// every test; once it says yes the search stops with the smallest failing
/// subset found so far. `elements` itself is taken to fail.
DdminResult ddmin(const Subset& elements, const std::function<bool(const Subset&)>& fails,
                  const std::function<bool()>& out_of_budget);

}  // namespace orgquake::shrink
