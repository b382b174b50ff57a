#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "migrator/failpoints/failpoint_list.hpp"

namespace orgquake::failpoints {

/// One enumerator per entry of failpoint_list.hpp, so that a call site names a
/// failpoint the compiler has checked: Failpoint::migrate_after_org_insert.
enum class Failpoint : std::uint16_t {
#define ORGQUAKE_FAILPOINT_ENUMERATOR(id, name, description) id,
  ORGQUAKE_FAILPOINT_LIST(ORGQUAKE_FAILPOINT_ENUMERATOR)
#undef ORGQUAKE_FAILPOINT_ENUMERATOR
};

namespace detail {

struct CatalogEntry {
  std::string_view identifier;
  std::string_view name;
  std::string_view description;
};

inline constexpr CatalogEntry catalog[] = {
#define ORGQUAKE_FAILPOINT_ENTRY(id, name, description) {#id, name, description},
    ORGQUAKE_FAILPOINT_LIST(ORGQUAKE_FAILPOINT_ENTRY)
#undef ORGQUAKE_FAILPOINT_ENTRY
};

/// A name is `area.step` in lowercase, and its identifier is the same text
/// with the '.' written as '_', so that grepping either finds the other.
constexpr bool is_well_formed(const CatalogEntry& entry) {
  const std::string_view name = entry.name;
  const std::size_t dot = name.find('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == name.size()) return false;
  if (name.find('.', dot + 1) != std::string_view::npos) return false;
  if (name.substr(0, dot).find('_') != std::string_view::npos) return false;
  if (entry.identifier.size() != name.size()) return false;
  for (std::size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.';
    if (!allowed) return false;
    if (entry.identifier[i] != (i == dot ? '_' : c)) return false;
  }
  return true;
}

constexpr bool catalog_is_well_formed() {
  for (const auto& entry : catalog) {
    if (!is_well_formed(entry)) return false;
  }
  return true;
}

static_assert(catalog_is_well_formed(),
              "every entry of failpoint_list.hpp is X(area_step, \"area.step\", \"...\")");

}  // namespace detail

/// How many failpoints the list declares.
inline constexpr std::size_t failpoint_count = std::size(detail::catalog);

constexpr std::size_t index_of(Failpoint point) {
  return static_cast<std::size_t>(point);
}

/// The grep-able `area.step` name, e.g. "migrate.after_org_insert".
constexpr std::string_view name_of(Failpoint point) {
  return detail::catalog[index_of(point)].name;
}

/// One line saying where the code is when the failpoint fires.
constexpr std::string_view description_of(Failpoint point) {
  return detail::catalog[index_of(point)].description;
}

/// Every failpoint, in list order.
constexpr std::array<Failpoint, failpoint_count> all_failpoints() {
  std::array<Failpoint, failpoint_count> points{};
  for (std::size_t i = 0; i < failpoint_count; ++i) points[i] = static_cast<Failpoint>(i);
  return points;
}

/// The failpoint called `name`, or nothing if the list has no such name.
std::optional<Failpoint> find_failpoint(std::string_view name);

/// The failpoint called `name`; otherwise UsageError saying the name is
/// unknown and, when one is close, which known name was probably meant.
Failpoint require_failpoint(std::string_view name);

}  // namespace orgquake::failpoints
