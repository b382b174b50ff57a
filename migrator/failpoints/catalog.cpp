#include "migrator/failpoints/catalog.hpp"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::failpoints {
namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> previous(b.size() + 1), current(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) previous[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    current[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[b.size()];
}

// A suggestion farther than this is more likely to mislead than to help.
constexpr std::size_t max_suggestion_distance = 4;

std::optional<std::string_view> closest_name(std::string_view name) {
  std::optional<std::string_view> best;
  std::size_t best_distance = max_suggestion_distance + 1;
  for (const auto& entry : detail::catalog) {
    const std::size_t distance = edit_distance(name, entry.name);
    if (distance < best_distance) {
      best_distance = distance;
      best = entry.name;
    }
  }
  return best;
}

}  // namespace

std::optional<Failpoint> find_failpoint(std::string_view name) {
  for (std::size_t i = 0; i < failpoint_count; ++i) {
    if (detail::catalog[i].name == name) return static_cast<Failpoint>(i);
  }
  return std::nullopt;
}

Failpoint require_failpoint(std::string_view name) {
  if (auto point = find_failpoint(name)) return *point;
  if (auto suggestion = closest_name(name)) {
    throw UsageError(fmt::format(
        "unknown failpoint \"{}\" (did you mean \"{}\"?); `orgquake list` shows every failpoint",
        name, *suggestion));
  }
  throw UsageError(
      fmt::format("unknown failpoint \"{}\"; `orgquake list` shows every failpoint", name));
}

}  // namespace orgquake::failpoints
