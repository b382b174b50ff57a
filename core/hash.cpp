#include "core/hash.hpp"

#include <fmt/format.h>

namespace orgquake {

StableHash& StableHash::add(std::string_view bytes) {
  for (unsigned char c : bytes) {
    state_ ^= c;
    state_ *= 0x100000001b3ULL;
  }
  return *this;
}

StableHash& StableHash::add(std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    state_ ^= (value >> (8 * i)) & 0xff;
    state_ *= 0x100000001b3ULL;
  }
  return *this;
}

StableHash& StableHash::add_field(std::string_view bytes) {
  add(static_cast<std::uint64_t>(bytes.size()));
  return add(bytes);
}

std::string StableHash::hex() const {
  return to_hex(state_);
}

std::string to_hex(std::uint64_t value) {
  return fmt::format("{:016x}", value);
}

}  // namespace orgquake
