#include "shrink/shrunk_spec.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "engine/options.hpp"
#include "engine/scenario.hpp"

namespace orgquake::shrink {
namespace {

using nlohmann::json;

std::string quoted(const std::string& text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

std::string key_of(const std::string& key) {
  const bool bare = !key.empty() && key.find_first_not_of(
                                        "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                        "abcdefghijklmnopqrstuvwxyz"
                                        "0123456789_-") == std::string::npos;
  return bare ? key : quoted(key);
}

/// A JSON value as a TOML value (objects as inline tables).
std::string value_of(const json& value) {
  switch (value.type()) {
    case json::value_t::string:
      return quoted(value.get<std::string>());
    case json::value_t::boolean:
      return value.get<bool>() ? "true" : "false";
    case json::value_t::number_integer:
      return std::to_string(value.get<std::int64_t>());
    case json::value_t::number_unsigned:
      // TOML integers stop at INT64_MAX; a larger one (a seed) goes as digits.
      if (value.get<std::uint64_t>() >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
        return quoted(std::to_string(value.get<std::uint64_t>()));
      }
      return std::to_string(value.get<std::uint64_t>());
    case json::value_t::number_float: {
      std::string text = fmt::format("{}", value.get<double>());
      if (text.find_first_of(".eE") == std::string::npos && std::isfinite(value.get<double>())) {
        text += ".0";
      }
      return text;
    }
    case json::value_t::array: {
      std::string out = "[";
      for (std::size_t i = 0; i < value.size(); ++i) {
        out += (i == 0 ? "" : ", ") + value_of(value[i]);
      }
      return out + "]";
    }
    case json::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, element] : value.items()) {
        out += fmt::format("{} {} = {}", first ? "" : ",", key_of(key), value_of(element));
        first = false;
      }
      return out + (first ? "}" : " }");
    }
    case json::value_t::null:
    case json::value_t::binary:
    case json::value_t::discarded:
      break;
  }
  return "\"\"";
}

void key_values(std::string& out, const json& table) {
  for (const auto& [key, value] : table.items()) {
    out += fmt::format("{} = {}\n", key_of(key), value_of(value));
  }
}

/// Whether `declaration` is the catalog's own (built in, or one of the
/// project's Python migrators): the spec then names it; else it declares it.
bool in_catalog(const engine::MigratorDeclaration& declaration) {
  if (declaration.built_in()) return true;
  const auto catalog = engine::MigratorCatalog::with_built_ins();
  for (const auto& known : catalog.all()) {
    if (known.name == declaration.name && known.command == declaration.command &&
        known.working_directory == declaration.working_directory &&
        known.environment == declaration.environment) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::string shrunk_spec_toml(const ShrinkTarget& target, const Candidate& candidate,
                             const std::vector<std::string>& comments) {
  std::string out;
  for (const auto& line : comments) out += line.empty() ? "#\n" : "# " + line + "\n";
  out += "\n";
  out += fmt::format("description = {}\n",
                     quoted(fmt::format("trial {} of {} ({}), shrunk: {}", target.trial_index,
                                        target.spec.name, target.scenario, target.invariant)));
  out += fmt::format("users = {}\ntrials = 1\nseed = {}\nmigrator = {}\n", target.spec.users,
                     value_of(json(target.run_seed)), quoted(target.migrator.name));
  if (!target.spec.invariants.empty()) {
    out += fmt::format("invariants = {}\n", value_of(json(target.spec.invariants)));
  }
  // Only the suite options this scenario reads: a suite of one scenario
  // refuses the others (workers, say, in a suite of stolen_lock).
  json options = json::object();
  if (const auto* scenario = engine::find_scenario(target.scenario)) {
    const auto declared = engine::declared_options(*scenario);
    for (const auto& [key, value] : target.spec.options.items()) {
      if (engine::find_option(declared, key) != nullptr) options[key] = value;
    }
  }
  if (!options.empty()) {
    out += "\n[options]\n";
    key_values(out, options);
  }
  if (!in_catalog(target.migrator)) {
    const auto& m = target.migrator;
    out += fmt::format("\n[migrators.{}]\n", key_of(m.name));
    out += fmt::format("command = {}\n", value_of(json(m.command)));
    out += fmt::format("working_directory = {}\n", quoted(m.working_directory.string()));
    if (!m.environment.empty())
      out += fmt::format("environment = {}\n", value_of(json(m.environment)));
    if (!m.description.empty()) out += fmt::format("description = {}\n", quoted(m.description));
  }
  const auto entry = entry_for(target, candidate);
  out += fmt::format("\n[scenarios.{}]\n", key_of(entry.scenario));
  key_values(out, entry.overrides);
  for (const auto& fault : entry.faults) {
    out += fmt::format("\n[[scenarios.{}.faults]]\n", key_of(entry.scenario));
    key_values(out, fault);
  }
  out += fmt::format("\n[scenarios.{}.replay]\n", key_of(entry.scenario));
  key_values(out, entry.replay->to_json());
  return out;
}

}  // namespace orgquake::shrink
