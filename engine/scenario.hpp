#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "engine/option_reader.hpp"
#include "engine/options.hpp"

namespace orgquake::engine {

class Trial;

/// One way of stressing the migrator: what runs, which faults fire, when.
/// The controller runs it in the trial's run phase; the heal and liveness
/// phases and the invariant checks follow for every scenario alike.
class Scenario {
 public:
  virtual ~Scenario() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;
  /// The options this scenario reads, beyond the trial options every
  /// scenario has (trial_options()): its own, and the common ones it uses.
  virtual std::vector<OptionSpec> options() const { return {}; }
  /// Plans from the trial's seed (trial.plan records each planned fault),
  /// then drives workers and faults. Throws on a harness failure. A run
  /// that did not exercise what the scenario claims says so
  /// (Trial::not_exercised): the trial is then unknown, not valid.
  virtual void run(Trial& trial) const = 0;

 protected:
  /// The trial's resolved options (for ScenarioOf, which cannot see Trial).
  static const Options& options_of(const Trial& trial);
};

/// A scenario whose options are read once into its own `Settings` struct:
/// `read` is both the declaration (run with no values, it lists the
/// options) and the parse (run with the trial's values). See OptionReader.
template <class Settings>
class ScenarioOf : public Scenario {
 public:
  std::vector<OptionSpec> options() const final {
    OptionReader declaring;
    (void)read(declaring);
    return std::move(declaring).declared();
  }
  void run(Trial& trial) const final {
    OptionReader reading(options_of(trial));
    run(trial, read(reading));
  }

 protected:
  /// Reads every option the scenario uses, each once, unconditionally.
  virtual Settings read(OptionReader& options) const = 0;
  virtual void run(Trial& trial, const Settings& settings) const = 0;
};

/// Every registered scenario, in name order.
const std::vector<std::unique_ptr<Scenario>>& all_scenarios();
/// The scenario of that name, or nullptr.
const Scenario* find_scenario(std::string_view name);
/// The trial options followed by the scenario's (its own and the common
/// ones it reads).
std::vector<OptionSpec> declared_options(const Scenario& scenario);

namespace detail {
struct ScenarioRegistration {
  explicit ScenarioRegistration(std::unique_ptr<Scenario> scenario);
};
}  // namespace detail

}  // namespace orgquake::engine

/// Registers a scenario type; the last line of its file. Scenarios build into
/// an object library, so that no registration is dropped by the linker.
#define ORGQUAKE_REGISTER_SCENARIO(Type)                                                   \
  static const ::orgquake::engine::detail::ScenarioRegistration orgquake_register_##Type { \
    std::make_unique<Type>()                                                               \
  }
