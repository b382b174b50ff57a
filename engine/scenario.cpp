#include "engine/scenario.hpp"

#include <algorithm>

#include "engine/trial.hpp"

namespace orgquake::engine {
namespace {

std::vector<std::unique_ptr<Scenario>>& registry() {
  static std::vector<std::unique_ptr<Scenario>> scenarios;
  return scenarios;
}

}  // namespace

const std::vector<std::unique_ptr<Scenario>>& all_scenarios() {
  return registry();
}

const Scenario* find_scenario(std::string_view name) {
  for (const auto& scenario : registry()) {
    if (scenario->name() == name) return scenario.get();
  }
  return nullptr;
}

const Options& Scenario::options_of(const Trial& trial) {
  return trial.options();
}

std::vector<OptionSpec> declared_options(const Scenario& scenario) {
  std::vector<OptionSpec> options = trial_options();
  for (auto& own : scenario.options()) options.push_back(std::move(own));
  return options;
}

namespace detail {

ScenarioRegistration::ScenarioRegistration(std::unique_ptr<Scenario> scenario) {
  auto& scenarios = registry();
  const auto at = std::lower_bound(
      scenarios.begin(), scenarios.end(), scenario->name(),
      [](const std::unique_ptr<Scenario>& s, std::string_view name) { return s->name() < name; });
  scenarios.insert(at, std::move(scenario));
}

}  // namespace detail
}  // namespace orgquake::engine
