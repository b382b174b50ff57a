#include "engine/interleaving.hpp"

#include <charconv>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "migrator/failpoints/catalog.hpp"

namespace orgquake::engine {
namespace {

std::string_view trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t\n\r");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t\n\r");
  return text.substr(first, last - first + 1);
}

std::vector<std::string_view> split(std::string_view text, std::string_view separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = text.find(separator);
    parts.push_back(trim(text.substr(0, at)));
    if (at == std::string_view::npos) return parts;
    text.remove_prefix(at + separator.size());
  }
}

// A cycle means some firing waits for itself: the run could only time out.
std::optional<std::string> find_cycle(const std::vector<HappensBefore>& pairs) {
  std::map<std::string, std::vector<std::string>> successors;
  for (const auto& pair : pairs) successors[pair.before].push_back(pair.after);
  enum class Mark { unseen, open, closed };
  std::map<std::string, Mark> marks;
  std::vector<std::string> path;
  std::optional<std::string> cycle;
  auto visit = [&](auto& self, const std::string& node) -> void {
    if (cycle) return;
    marks[node] = Mark::open;
    path.push_back(node);
    for (const auto& next : successors[node]) {
      if (marks[next] == Mark::open) {
        std::string text;
        bool in_cycle = false;
        for (const auto& step : path) {
          in_cycle = in_cycle || step == next;
          if (in_cycle) text += step + " -> ";
        }
        cycle = text + next;
        return;
      }
      if (marks[next] == Mark::unseen) self(self, next);
      if (cycle) return;
    }
    path.pop_back();
    marks[node] = Mark::closed;
  };
  for (const auto& pair : pairs) {
    if (marks[pair.before] == Mark::unseen) visit(visit, pair.before);
  }
  return cycle;
}

}  // namespace

InterleavingStep parse_step(std::string_view text) {
  const auto at = text.find('@');
  if (at == std::string_view::npos) return {std::string(text), std::nullopt};
  const auto op_text = trim(text.substr(at + 1));
  std::int64_t op = 0;
  const auto [end, error] = std::from_chars(op_text.data(), op_text.data() + op_text.size(), op);
  if (op_text.empty() || error != std::errc() || end != op_text.data() + op_text.size() || op < 0) {
    throw UsageError(fmt::format(
        "'{}': after '@' comes an operation id (a non-negative integer), not '{}'", text, op_text));
  }
  return {std::string(trim(text.substr(0, at))), op};
}

std::vector<HappensBefore> parse_interleaving(std::string_view text) {
  std::vector<HappensBefore> pairs;
  if (trim(text).empty()) return pairs;
  std::set<std::pair<std::string, std::string>> seen;
  for (const auto chain : split(text, ";")) {
    if (chain.empty()) continue;  // a trailing ';' is harmless
    const auto steps = split(chain, "->");
    if (steps.size() < 2) {
      throw UsageError(fmt::format(
          "'{}' orders nothing; write 'before -> after', pairs separated by ';'", chain));
    }
    for (const auto step : steps) {
      if (step.empty()) {
        throw UsageError(fmt::format("'{}' has an empty step", chain));
      }
      // Throws with the nearest known name.
      failpoints::require_failpoint(parse_step(step).failpoint);
    }
    for (std::size_t i = 1; i < steps.size(); ++i) {
      if (steps[i - 1] == steps[i]) {
        throw UsageError(fmt::format("{} cannot happen before itself", steps[i]));
      }
      HappensBefore pair{std::string(steps[i - 1]), std::string(steps[i])};
      if (seen.emplace(pair.before, pair.after).second) pairs.push_back(std::move(pair));
    }
  }
  if (auto cycle = find_cycle(pairs)) {
    throw UsageError(fmt::format("the pairs form a cycle ({}) that no run can satisfy", *cycle));
  }
  return pairs;
}

std::optional<std::string> check_interleaving(std::string_view text) {
  try {
    parse_interleaving(text);
    return std::nullopt;
  } catch (const UsageError& e) {
    return std::string(e.what());
  }
}

}  // namespace orgquake::engine
