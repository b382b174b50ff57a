#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "migrator/migrator.hpp"

namespace orgquake::migrator::bugs {

/// One entry of the catalog of known migration bugs: the reference migrator
/// with exactly one step done wrong, as real migrations of this kind got it
/// wrong. `orgquake run --migrator bug:NAME` runs it; `orgquake
/// mutation-score` shows which invariants and scenarios catch it.
struct CatalogBug {
  std::string name;     ///< without the "bug:" prefix
  std::string summary;  ///< what the variant does differently, in one line
  std::string source;   ///< where this class of bug comes from
  /// Empty for a bug the suite must catch; otherwise the argument that no
  /// observable outcome can tell it from the reference (an equivalent mutant).
  std::string equivalent_because;
  std::function<std::unique_ptr<Migrator>()> make;
  /// Its signature: the "invariant/symptom" codes of the evidence it leaves
  /// when caught, so that a run of any migrator can say which known classes
  /// its findings fit (`orgquake run` prints them; docs/bug-catalog.md).
  std::vector<std::string> symptoms;
};

/// "bug:" — the prefix of a catalog entry's migrator name.
inline constexpr std::string_view bug_prefix = "bug:";

/// Every entry, in the order the catalog lists them.
const std::vector<CatalogBug>& bug_catalog();

/// The entry of that name (with or without the "bug:" prefix), or nullptr.
const CatalogBug* find_bug(std::string_view name);

}  // namespace orgquake::migrator::bugs
