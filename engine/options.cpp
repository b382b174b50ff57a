#include "engine/options.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::engine {

using nlohmann::json;

namespace {

OptionSpec integer_option(std::string name, std::int64_t default_value, std::int64_t min,
                          std::int64_t max, std::string description) {
  return {std::move(name),          default_value,
          std::move(description),   static_cast<double>(min),
          static_cast<double>(max), {}};
}

// Bounds are doubles, but an integer option's bounds read better without a
// fraction or an exponent ("600000", not "6e+05").
std::string bound_text(const OptionSpec& spec, double bound) {
  if (spec.default_value.is_number_integer()) {
    return fmt::format("{}", static_cast<std::int64_t>(bound));
  }
  return fmt::format("{}", bound);
}

std::string range_text(const OptionSpec& spec) {
  if (spec.min && spec.max) {
    return fmt::format(" from {} to {}", bound_text(spec, *spec.min), bound_text(spec, *spec.max));
  }
  if (spec.min) return fmt::format(" of at least {}", bound_text(spec, *spec.min));
  if (spec.max) return fmt::format(" of at most {}", bound_text(spec, *spec.max));
  return "";
}

std::string expected_text(const OptionSpec& spec) {
  const json& d = spec.default_value;
  if (d.is_boolean()) return "true or false";
  if (d.is_number_integer()) return "an integer" + range_text(spec);
  if (d.is_number_float()) return "a number" + range_text(spec);
  if (d.is_string()) {
    if (spec.choices.empty()) return "a string";
    std::string out = "one of ";
    for (std::size_t i = 0; i < spec.choices.size(); ++i) {
      out += (i == 0 ? "" : ", ") + spec.choices[i];
    }
    return out;
  }
  return "a value like " + d.dump();
}

// JSON has no spelling for NaN or infinity (dump() gives "null"), but TOML
// does, and the message should show what the user wrote.
std::string value_text(const json& value) {
  if (value.is_number_float()) {
    const double v = value.get<double>();
    if (std::isnan(v)) return "nan";
    if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  }
  return value.dump();
}

bool in_range(const OptionSpec& spec, double v) {
  return (!spec.min || v >= *spec.min) && (!spec.max || v <= *spec.max);
}

bool acceptable(const OptionSpec& spec, const json& value) {
  const json& d = spec.default_value;
  if (d.is_boolean()) return value.is_boolean();
  if (d.is_number_integer()) {
    if (!value.is_number_integer()) return false;
    // An unsigned value beyond int64 cannot be read by Options::integer.
    if (value.is_number_unsigned() &&
        value.get<std::uint64_t>() >
            static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
      return false;
    }
    return in_range(spec, static_cast<double>(value.get<std::int64_t>()));
  }
  if (d.is_number_float()) {
    if (!value.is_number()) return false;
    const double v = value.get<double>();
    return std::isfinite(v) && in_range(spec, v);
  }
  if (d.is_string()) {
    if (!value.is_string()) return false;
    if (spec.choices.empty()) return true;
    for (const auto& choice : spec.choices) {
      if (value.get<std::string>() == choice) return true;
    }
    return false;
  }
  return value.type() == d.type();
}

}  // namespace

const std::vector<OptionSpec>& common_options() {
  static const std::vector<OptionSpec> options{
      integer_option("workers", 4, 1, 32, "worker processes, each one app-server replica"),
      integer_option("clients", 16, 1, 256, "client fibers per worker"),
      integer_option("users", 8, 1, 100000,
                     "users the scenario works on, taken from the fixture world"),
  };
  return options;
}

const OptionSpec* find_option(const std::vector<OptionSpec>& options, std::string_view name) {
  for (auto it = options.rbegin(); it != options.rend(); ++it) {
    if (it->name == name) return &*it;
  }
  return nullptr;
}

// A missing option is a bug in the code that asks, not in the user's spec:
// resolve_options gave every declared option a checked value.
const nlohmann::json& Options::value(std::string_view name) const {
  const auto it = values_.find(name);
  if (it == values_.end()) {
    throw std::logic_error(fmt::format("option {} is not declared by the scenario", name));
  }
  return *it;
}

std::optional<std::string> check_option(const OptionSpec& spec, const nlohmann::json& value) {
  if (acceptable(spec, value)) {
    if (!spec.validate) return std::nullopt;
    auto complaint = spec.validate(value);
    if (!complaint) return std::nullopt;
    return fmt::format("{}: {}", spec.name, *complaint);
  }
  return fmt::format("{}: expected {}, got {}", spec.name, expected_text(spec), value_text(value));
}

Options resolve_options(const std::vector<OptionSpec>& declared,
                        const std::vector<const nlohmann::json*>& layers) {
  json values = json::object();
  for (const auto& spec : declared) values[spec.name] = spec.default_value;
  for (const json* layer : layers) {
    if (layer == nullptr) continue;
    if (!layer->is_object()) {
      throw std::logic_error("resolve_options: a layer of options is not a JSON object");
    }
    for (const auto& [name, value] : layer->items()) {
      // The last declaration wins, as with the defaults above: a scenario may
      // redeclare a common option with its own default and bounds.
      const OptionSpec* spec = nullptr;
      for (const auto& candidate : declared) {
        if (candidate.name == name) spec = &candidate;
      }
      if (spec == nullptr) continue;
      if (auto error = check_option(*spec, value)) throw UsageError(*error);
      // A float option given as an integer is stored as a float, so that the
      // recorded options (results.json) keep one type per option.
      values[name] = spec->default_value.is_number_float() ? json(value.get<double>()) : value;
    }
  }
  return Options(std::move(values));
}

}  // namespace orgquake::engine
