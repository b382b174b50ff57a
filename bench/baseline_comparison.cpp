#include "bench/baseline_comparison.hpp"

#include <algorithm>
#include <cmath>

namespace orgquake::bench {

const char* name_of(Comparison::Verdict verdict) {
  switch (verdict) {
    case Comparison::Verdict::unchanged:
      return "ok";
    case Comparison::Verdict::faster:
      return "faster";
    case Comparison::Verdict::regressed:
      return "REGRESSED";
    case Comparison::Verdict::failed:
      return "FAILED";
    case Comparison::Verdict::missing:
      return "missing";
    case Comparison::Verdict::new_in_run:
      return "new";
  }
  return "?";
}

std::vector<Comparison> compare_runs(const BenchRun& baseline, const BenchRun& current) {
  std::vector<Comparison> out;
  for (const auto& result : current.results) {
    Comparison c;
    c.name = result.name;
    c.current = figure_of(current, result);
    const BenchResult* before = baseline.find(result.name);
    if (before != nullptr) c.baseline = figure_of(baseline, *before);
    if (!c.current) {
      c.verdict = Comparison::Verdict::failed;
    } else if (!c.baseline) {
      c.verdict = Comparison::Verdict::new_in_run;
    } else {
      c.change = c.current->value / c.baseline->value - 1;
      const double minimum = c.current->is_ratio ? kMinimumMargin : kMinimumMarginWithoutFloor;
      c.margin = std::max(minimum, kNoiseSigmas * std::hypot(c.baseline->noise, c.current->noise));
      if (is_floor(c.name)) {
        c.verdict = Comparison::Verdict::unchanged;
      } else if (c.current->value > c.baseline->value * (1 + c.margin)) {
        c.verdict = Comparison::Verdict::regressed;
      } else if (c.current->value * (1 + c.margin) < c.baseline->value) {
        c.verdict = Comparison::Verdict::faster;
      }
    }
    out.push_back(std::move(c));
  }
  for (const auto& result : baseline.results) {
    if (current.find(result.name) == nullptr) {
      Comparison c;
      c.name = result.name;
      c.verdict = Comparison::Verdict::missing;
      c.baseline = figure_of(baseline, result);
      out.push_back(std::move(c));
    }
  }
  return out;
}

bool any_regression(const std::vector<Comparison>& comparisons) {
  return std::any_of(comparisons.begin(), comparisons.end(), [](const Comparison& c) {
    return c.verdict == Comparison::Verdict::regressed || c.verdict == Comparison::Verdict::failed;
  });
}

}  // namespace orgquake::bench
