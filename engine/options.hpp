#pragma once

// Scenario options: named, typed settings with defaults, which a suite spec
// sets for every scenario ([options]) or for one ([scenarios.NAME]). A name
// no scenario declares is an error, as is a value of the wrong type or range.

#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace orgquake::engine {

struct OptionSpec {
  std::string name;
  /// The default; its JSON type (integer, boolean, string, float) is the
  /// option's type. An integer default accepts only integers; a float default
  /// accepts integers too.
  nlohmann::json default_value;
  std::string description;
  std::optional<double> min, max;    ///< inclusive bounds of numeric options
  std::vector<std::string> choices;  ///< for strings: the accepted values (empty: any)
  /// A check beyond type and range: the complaint about an acceptable-typed
  /// value, or nullopt. Empty: none.
  std::function<std::optional<std::string>(const nlohmann::json&)> validate = nullptr;
};

/// Options several scenarios share (workers, clients, users): a scenario
/// declares each one it reads (OptionReader::common_count), and only such a
/// scenario accepts it. The options every trial has are trial_options()
/// (option_reader.hpp).
const std::vector<OptionSpec>& common_options();

/// The last declaration of `name` in `options`, or nullptr: a scenario may
/// redeclare a trial option with its own default, and resolve_options lets
/// the later one win too.
const OptionSpec* find_option(const std::vector<OptionSpec>& options, std::string_view name);

/// The resolved options of one trial: every declared option has a value.
class Options {
 public:
  Options() = default;
  explicit Options(nlohmann::json values) : values_(std::move(values)) {}

  /// The value of a declared option; std::logic_error for one that is not
  /// (a bug in the code that asks, not in the user's spec). Typed reading
  /// is OptionReader's (option_reader.hpp).
  const nlohmann::json& value(std::string_view name) const;
  const nlohmann::json& json() const { return values_; }

 private:
  nlohmann::json values_ = nlohmann::json::object();
};

/// Checks `value` against `spec`; returns an error line ("workers: expected an
/// integer from 1 to 64, got \"four\"") or nullopt when it is acceptable.
std::optional<std::string> check_option(const OptionSpec& spec, const nlohmann::json& value);

/// Builds a trial's options: the defaults of `declared`, then each layer of
/// `layers` in order (keys not in `declared` are skipped here; the spec loader
/// has already rejected names nobody declares). Throws UsageError on a bad value.
Options resolve_options(const std::vector<OptionSpec>& declared,
                        const std::vector<const nlohmann::json*>& layers);

}  // namespace orgquake::engine
