#pragma once

#include <string_view>

namespace orgquake::fakes {

/// A request target's path, without its query string.
inline std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

/// A request target's query string, without the '?'; empty if it has none.
inline std::string_view query_of(std::string_view target) {
  const std::size_t q = target.find('?');
  return q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
}

}  // namespace orgquake::fakes
