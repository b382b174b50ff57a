#include "history/operations.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>

namespace orgquake::history {

std::vector<Operation> operations_of(const History& history) {
  std::vector<Operation> ops;
  std::unordered_map<std::int64_t, std::size_t> index;
  for (const auto& event : history.events()) {
    const bool completion = event.type == EventType::ok || event.type == EventType::fail ||
                            event.type == EventType::info;
    if (event.op < 0 || (event.type != EventType::invoke && !completion)) continue;
    const auto [it, fresh] = index.try_emplace(event.op, ops.size());
    if (fresh) ops.emplace_back();
    auto& op = ops[it->second];
    auto& slot = event.type == EventType::invoke ? op.invoke : op.completion;
    if (slot == nullptr) slot = &event;
  }
  return ops;
}

int max_in_flight(const History& history, std::string_view kind) {
  // A sweep over the sorted events: +1 at an invoke, -1 at its completion.
  std::unordered_map<std::int64_t, bool> open;
  int in_flight = 0, most = 0;
  for (const auto& event : history.events()) {
    if (event.op < 0 || event.kind != kind) continue;
    if (event.type == EventType::invoke) {
      open[event.op] = true;
      most = std::max(most, ++in_flight);
    } else if (event.type == EventType::ok || event.type == EventType::fail ||
               event.type == EventType::info) {
      if (auto it = open.find(event.op); it != open.end() && it->second) {
        it->second = false;
        --in_flight;
      }
    }
  }
  return most;
}

int max_in_flight_for_one_user(const History& history, std::string_view kind) {
  // Per user, a sweep over the operations' edges sorted by time; at equal
  // times a completion comes before an invoke, so that back-to-back
  // operations do not count as overlapping.
  std::map<std::string, std::vector<std::pair<std::int64_t, int>>> edges;
  for (const auto& op : operations_of(history)) {
    if (op.invoke == nullptr || op.invoke->kind != kind || op.invoke->user.empty()) continue;
    auto& user = edges[op.invoke->user];
    user.emplace_back(op.invoke->time_ns, +1);
    if (op.completion != nullptr) user.emplace_back(op.completion->time_ns, -1);
  }
  int most = 0;
  for (auto& [user, points] : edges) {
    std::sort(points.begin(), points.end());
    int in_flight = 0;
    for (const auto& [time, step] : points) most = std::max(most, in_flight += step);
  }
  return most;
}

nlohmann::json to_json(const Operation& op) {
  return {{"invoke", op.invoke ? op.invoke->to_json() : nlohmann::json()},
          {"completion", op.completion ? op.completion->to_json() : nlohmann::json()}};
}

std::string string_field(const nlohmann::json& value, const char* key) {
  const auto it = value.find(key);
  return it != value.end() && it->is_string() ? it->get<std::string>() : std::string();
}

std::string seconds(std::int64_t ns) {
  auto text = fmt::format("{:.3f}", static_cast<double>(ns) / 1e9);
  while (text.back() == '0' && text[text.size() - 2] != '.') text.pop_back();
  return text + " s";
}

std::string describe_rollout(const Event& event) {
  if (event.kind == "flag") {
    const auto allowed = event.value.value("allow_list", nlohmann::json::array()).size();
    return fmt::format("flag {} %{} (version {})", event.value.value("percentage", -1),
                       allowed == 0 ? std::string() : fmt::format(" + {} allow-listed", allowed),
                       event.value.value("version", std::int64_t{-1}));
  }
  if (event.kind == "backup") return "database backed up";
  if (event.kind == "schema") {
    const auto step = string_field(event.value, "step");
    if (event.value.value("refused", false)) {
      return fmt::format("schema step \"{}\" refused: {} rows not backfilled", step,
                         event.value.value("blocking_rows", std::int64_t{0}));
    }
    return fmt::format("schema step \"{}\" {} after {} attempts ({} gave up waiting for a lock)",
                       step, event.value.value("applied", false) ? "applied" : "NOT applied",
                       event.value.value("attempts", 0), event.value.value("lock_timeouts", 0));
  }
  if (event.kind == "restore") {
    return "database restored from the backup; compensation: " +
           string_field(event.value, "compensation");
  }
  return "rollout " + event.kind;
}

}  // namespace orgquake::history
