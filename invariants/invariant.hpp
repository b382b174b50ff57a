#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "invariants/observed_world.hpp"
#include "results/verdict.hpp"

namespace orgquake::invariants {

// The verdict vocabulary is the results model's; invariants produce it.
using results::Evidence;
using results::Validity;
using results::Verdict;
using results::VerdictBuilder;

/// A Stripe object's metadata value, "" when the key is absent.
inline std::string metadata_value(const std::map<std::string, std::string>& metadata,
                                  const std::string& key) {
  const auto it = metadata.find(key);
  return it == metadata.end() ? "" : it->second;
}

/// How many operations one piece of evidence lists; the rest are counted.
inline constexpr std::size_t max_ops_per_evidence = 10;

/// A rule the end state of a run must satisfy. Checks read; they never write.
class Invariant {
 public:
  virtual ~Invariant() = default;
  virtual std::string_view name() const = 0;
  virtual std::string_view description() const = 0;
  virtual Verdict check(const ObservedWorld& world) const = 0;
};

/// Every registered invariant, in name order.
const std::vector<std::unique_ptr<Invariant>>& all_invariants();

/// The invariant of that name, or nullptr.
const Invariant* find_invariant(std::string_view name);

namespace detail {
struct Registration {
  explicit Registration(std::unique_ptr<Invariant> invariant);
};
}  // namespace detail

}  // namespace orgquake::invariants

/// Registers an invariant type; the last line of its file. The library is an
/// object library, so that no registration is dropped by the linker.
#define ORGQUAKE_REGISTER_INVARIANT(Type)                                              \
  static const ::orgquake::invariants::detail::Registration orgquake_register_##Type { \
    std::make_unique<Type>()                                                           \
  }
