#pragma once

#include <cstdint>
#include <string_view>

#include "core/hash.hpp"

namespace orgquake {

// GCC and Clang both have 128-bit integers; __extension__ keeps -Wpedantic quiet.
__extension__ using uint128 = unsigned __int128;

/// The run's source of randomness: xoshiro256** seeded through splitmix64.
///
/// Every random choice in orgquake draws from an Rng derived from the run's
/// seed, so one seed replays one run. The distributions are written here
/// rather than taken from <random>, whose distributions differ between
/// standard libraries. Derive a named stream per purpose, so that a new use of
/// randomness in one part does not shift the draws of another:
///
///   Rng world = Rng(seed).derive("world");
///   bool edge = world.chance(0.05);
class Rng {
 public:
  explicit Rng(std::uint64_t seed) {
    std::uint64_t s = seed;
    for (auto& word : state_) word = splitmix64(s);
  }

  /// An independent stream for `label`, reproducible from this one's seed.
  Rng derive(std::string_view label) const {
    return Rng(StableHash{}.add(state_[0]).add(state_[1]).add_field(label).value());
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  /// Uniform in [0, bound); bound > 0. Lemire's multiply-and-reject, unbiased.
  std::uint64_t below(std::uint64_t bound) {
    uint128 m = static_cast<uint128>(next()) * bound;
    auto low = static_cast<std::uint64_t>(m);
    if (low < bound) {
      const std::uint64_t threshold = (0 - bound) % bound;
      while (low < threshold) {
        m = static_cast<uint128>(next()) * bound;
        low = static_cast<std::uint64_t>(m);
      }
    }
    return static_cast<std::uint64_t>(m >> 64);
  }

  /// Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }

  /// Uniform in [0, 1) with 53 bits.
  double unit() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  bool chance(double probability) { return unit() < probability; }

 private:
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::uint64_t state_[4];
};

}  // namespace orgquake
