#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace orgquake {

/// A stable 64-bit content hash (FNV-1a). Stable across builds and machines,
/// so it can key caches and fingerprint worlds; not for security.
class StableHash {
 public:
  StableHash& add(std::string_view bytes);
  StableHash& add(std::uint64_t value);
  /// Adds a length prefix first, so ("ab","c") and ("a","bc") differ.
  StableHash& add_field(std::string_view bytes);
  std::uint64_t value() const { return state_; }
  /// 16 lowercase hex digits.
  std::string hex() const;

 private:
  std::uint64_t state_ = 0xcbf29ce484222325ULL;
};

std::string to_hex(std::uint64_t value);

}  // namespace orgquake
