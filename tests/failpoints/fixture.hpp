#pragma once

#include <cstdlib>
#include <string>

#include "migrator/failpoints/failpoint.hpp"
#include "migrator/failpoints/injected_error.hpp"
#include "migrator/failpoints/registry.hpp"

namespace orgquake::failpoints::testing {

/// Leaves the process-wide registry as a fresh process has it, before and
/// after each test, so that no test sees another's configuration.
struct CleanRegistry {
  CleanRegistry() { reset(); }
  ~CleanRegistry() { reset(); }

  static void reset() {
    set_observer({});
    clear_all();
    clear_hits();
    set_seed(0);
    ::unsetenv(std::string(environment_variable).c_str());
  }
};

/// Evaluates `point` as a call site would; true if it threw InjectedError.
inline bool injects_error(Failpoint point) {
  try {
    evaluate(point);
    return false;
  } catch (const InjectedError&) {
    return true;
  }
}

}  // namespace orgquake::failpoints::testing
