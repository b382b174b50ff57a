#include "shrink/step_order.hpp"

#include <algorithm>
#include <map>
#include <utility>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace orgquake::shrink {

std::vector<engine::HappensBefore> turn_pairs(const history::History& history,
                                              const std::set<std::int64_t>& operations) {
  struct Step {
    std::int64_t time_ns, op;
    std::string failpoint;
  };
  std::vector<Step> steps;
  std::set<std::pair<std::int64_t, std::string>> seen;
  for (const auto& event : history.events()) {
    if (event.type != history::EventType::failpoint || !operations.contains(event.op)) continue;
    // The first firing only: a step named by operation is its first firing.
    if (!seen.emplace(event.op, event.kind).second) continue;
    steps.push_back({event.time_ns, event.op, event.kind});
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& a, const Step& b) { return a.time_ns < b.time_ns; });
  std::vector<engine::HappensBefore> pairs;
  for (std::size_t i = 1; i < steps.size(); ++i) {
    if (steps[i - 1].op == steps[i].op) continue;
    pairs.push_back({fmt::format("{}@{}", steps[i - 1].failpoint, steps[i - 1].op),
                     fmt::format("{}@{}", steps[i].failpoint, steps[i].op)});
  }
  return pairs;
}

std::string interleaving_text(const std::vector<engine::HappensBefore>& pairs) {
  std::vector<std::string> parts;
  for (const auto& pair : pairs) parts.push_back(pair.before + " -> " + pair.after);
  return fmt::format("{}", fmt::join(parts, "; "));
}

}  // namespace orgquake::shrink
