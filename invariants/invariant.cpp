#include "invariants/invariant.hpp"

#include <algorithm>

namespace orgquake::invariants {
namespace {

// Function-local: registrations run during static initialization, in any order.
std::vector<std::unique_ptr<Invariant>>& registry() {
  static std::vector<std::unique_ptr<Invariant>> invariants;
  return invariants;
}

}  // namespace

detail::Registration::Registration(std::unique_ptr<Invariant> invariant) {
  auto& all = registry();
  all.push_back(std::move(invariant));
  std::sort(all.begin(), all.end(),
            [](const auto& a, const auto& b) { return a->name() < b->name(); });
}

const std::vector<std::unique_ptr<Invariant>>& all_invariants() {
  return registry();
}

const Invariant* find_invariant(std::string_view name) {
  for (const auto& i : registry()) {
    if (i->name() == name) return i.get();
  }
  return nullptr;
}

}  // namespace orgquake::invariants
