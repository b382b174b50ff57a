#pragma once

#include <memory>
#include <string_view>
#include <vector>

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
  /// Options of this scenario only (the common ones apply to all).
  virtual std::vector<OptionSpec> options() const { return {}; }
  /// Plans from the trial's seed (trial.plan_fault records each planned
  /// fault), then drives workers and faults. Throws on a harness failure.
  virtual void run(Trial& trial) const = 0;
};

/// Every registered scenario, in name order.
const std::vector<std::unique_ptr<Scenario>>& all_scenarios();
/// The scenario of that name, or nullptr.
const Scenario* find_scenario(std::string_view name);
/// Common options followed by the scenario's own.
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
