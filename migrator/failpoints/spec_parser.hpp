#pragma once

#include <string_view>
#include <vector>

#include "migrator/failpoints/catalog.hpp"
#include "migrator/failpoints/spec.hpp"

namespace orgquake::failpoints {

/// Parses the fail(9) / fail-rs grammar of one failpoint's configuration,
///   [p%][n*]action[(arg)][->[p%][n*]action[(arg)]...]
/// e.g. "2*sleep(100)->off" or "50%return(stripe is down)". Actions are off,
/// return[(text)], sleep(ms), yield, pause and crash. `failpoint_name` only
/// labels the error: any mistake throws UsageError with one line naming the
/// failpoint, the term and what is wrong.
Spec parse_spec(std::string_view failpoint_name, std::string_view text);

/// One `name=spec` of a configuration.
struct Setting {
  Failpoint point;
  Spec spec;
};

/// Parses `name=spec[;name=spec...]`, the form of ORGQUAKE_FAILPOINTS, e.g.
///   "migrate.after_org_insert=50%crash;lookup.after_lock_acquire=2*sleep(100)->off"
/// Empty items are skipped; an unknown name, a name given twice or a bad spec
/// throws UsageError. Separators inside an argument's parentheses do not split,
/// so return(a;b->c) keeps its text.
std::vector<Setting> parse_configuration(std::string_view text);

}  // namespace orgquake::failpoints
