#include "engine/trial_replay.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::engine {

using nlohmann::json;

std::optional<std::uint64_t> read_seed(const nlohmann::json& value) {
  if (value.is_number_unsigned() || (value.is_number_integer() && value.get<std::int64_t>() >= 0)) {
    return value.get<std::uint64_t>();
  }
  if (!value.is_string()) return std::nullopt;
  const auto& text = value.get_ref<const std::string&>();
  std::uint64_t seed = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), seed);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) {
    return std::nullopt;
  }
  return seed;
}

nlohmann::json TrialReplay::to_json() const {
  // The seed as a string, as a TOML spec must carry it.
  json out = {{"seed", std::to_string(seed)}};
  if (faults) out["faults"] = *faults;
  if (operations) out["operations"] = *operations;
  return out;
}

TrialReplay TrialReplay::from_json(const nlohmann::json& j, const std::string& where) {
  if (!j.is_object()) {
    throw UsageError(
        fmt::format("{}: expected a table (seed, faults, operations), got {}", where, j.dump()));
  }
  TrialReplay replay;
  bool seeded = false;
  const auto indexes = [&](const char* key, const json& value) {
    std::vector<std::int64_t> out;
    if (value.is_array()) {
      for (const auto& element : value) {
        if (!element.is_number_integer() || element.get<std::int64_t>() < 0) {
          out.clear();
          break;
        }
        out.push_back(element.get<std::int64_t>());
      }
      if (out.size() == value.size()) return out;
    }
    throw UsageError(fmt::format("{}.{}: expected a list of non-negative integers, got {}", where,
                                 key, value.dump()));
  };
  for (const auto& [key, value] : j.items()) {
    if (key == "seed") {
      const auto seed = read_seed(value);
      if (!seed) {
        throw UsageError(fmt::format(
            "{}.seed: expected the trial's seed as a decimal string, got {}", where, value.dump()));
      }
      replay.seed = *seed;
      seeded = true;
    } else if (key == "faults") {
      const auto list = indexes("faults", value);
      replay.faults.emplace(list.begin(), list.end());
    } else if (key == "operations") {
      replay.operations = indexes("operations", value);
    } else {
      throw UsageError(fmt::format(
          "{}: unknown key \"{}\"; a replay table takes seed, faults, operations", where, key));
    }
  }
  if (!seeded) throw UsageError(fmt::format("{}: seed: missing (the trial's seed)", where));
  return replay;
}

}  // namespace orgquake::engine
