#include "invariants/history_operations.hpp"

#include <unordered_map>

#include <fmt/format.h>

namespace orgquake::invariants {

using history::EventType;

std::vector<Operation> operations_of(const history::History& history) {
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

CappedVerdict::CappedVerdict(std::string rule, int limit)
    : rule_(rule), builder_(std::move(rule)), limit_(limit) {}

void CappedVerdict::violation(std::string what, nlohmann::json data) {
  if (++found_ <= limit_) builder_.violation(std::move(what), std::move(data));
}

Verdict CappedVerdict::finish(const std::string& checked) const {
  auto verdict = builder_.finish(checked);
  if (found_ > limit_) {
    const int omitted = found_ - limit_;
    verdict.summary = fmt::format("{}: {} violations among {}; first: {}", rule_, found_, checked,
                                  verdict.evidence.front().what);
    verdict.evidence.push_back(
        {fmt::format("{} more violations are not listed", omitted), {{"omitted", omitted}}});
  }
  return verdict;
}

}  // namespace orgquake::invariants
