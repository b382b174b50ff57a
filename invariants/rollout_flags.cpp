#include "invariants/rollout_flags.hpp"

#include <algorithm>

#include "core/hash.hpp"

namespace orgquake::invariants {

bool FlagState::covers(std::string_view legacy_user_id) const {
  if (std::find(allow_list.begin(), allow_list.end(), legacy_user_id) != allow_list.end()) {
    return true;
  }
  StableHash hash;
  hash.add("org_path:").add(legacy_user_id);
  return static_cast<int>(hash.value() % 100) < percentage;
}

RolloutFlags::RolloutFlags(const history::History& history) {
  states_[0] = FlagState{};  // the schema's row: 0 %, nobody
  for (const auto& e : history.events()) {
    if (e.type != history::EventType::rollout || e.kind != "flag") continue;
    FlagState flag;
    flag.percentage = e.value.value("percentage", 0);
    flag.version = e.value.value("version", std::int64_t{-1});
    if (const auto list = e.value.find("allow_list"); list != e.value.end() && list->is_array()) {
      for (const auto& id : *list) {
        if (id.is_string()) flag.allow_list.push_back(id.get<std::string>());
      }
    }
    states_[flag.version] = std::move(flag);
  }
}

std::optional<FlagState> RolloutFlags::at(std::int64_t version) const {
  const auto it = states_.find(version);
  if (it == states_.end()) return std::nullopt;
  return it->second;
}

bool RolloutFlags::ever_covered(std::string_view legacy_user_id) const {
  return std::any_of(states_.begin(), states_.end(),
                     [&](const auto& state) { return state.second.covers(legacy_user_id); });
}

bool has_serves(const history::History& history) {
  for (const auto& e : history.events()) {
    if (e.type == history::EventType::invoke && e.kind == history::op_serve) return true;
  }
  return false;
}

}  // namespace orgquake::invariants
