#include "shrink/ddmin.hpp"

#include <algorithm>
#include <map>

namespace orgquake::shrink {
namespace {

/// `set` cut into `n` chunks of near-equal size, in order.
std::vector<Subset> chunks_of(const Subset& set, std::size_t n) {
  std::vector<Subset> chunks;
  std::size_t start = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t end = start + (set.size() - start) / (n - i);
    chunks.emplace_back(set.begin() + static_cast<long>(start),
                        set.begin() + static_cast<long>(end));
    start = end;
  }
  return chunks;
}

Subset without(const Subset& set, const Subset& removed) {
  Subset out;
  std::set_difference(set.begin(), set.end(), removed.begin(), removed.end(),
                      std::back_inserter(out));
  return out;
}

}  // namespace

DdminResult ddmin(const Subset& elements, const std::function<bool(const Subset&)>& fails,
                  const std::function<bool()>& out_of_budget) {
  DdminResult result;
  Subset current = elements;
  std::sort(current.begin(), current.end());
  std::map<Subset, bool> remembered;
  bool stopped = false;
  const auto test = [&](const Subset& subset) {
    if (const auto known = remembered.find(subset); known != remembered.end()) {
      return known->second;
    }
    if (out_of_budget()) {
      stopped = true;
      return false;
    }
    ++result.tests;
    const bool failed = fails(subset);
    remembered.emplace(subset, failed);
    return failed;
  };

  // The empty set first: a failure that needs none of the elements (a
  // bug that shows without any fault) is the smallest story of all.
  if (!current.empty() && test({})) current.clear();
  std::size_t n = 2;
  while (current.size() >= 2 && !stopped) {
    n = std::min(n, current.size());
    const auto chunks = chunks_of(current, n);
    bool reduced = false;
    for (const auto& chunk : chunks) {
      if (test(chunk)) {
        current = chunk;
        n = 2;
        reduced = true;
        break;
      }
      if (stopped) break;
    }
    if (!reduced && !stopped && n > 2) {
      for (const auto& chunk : chunks) {
        const Subset complement = without(current, chunk);
        if (test(complement)) {
          current = complement;
          n = std::max<std::size_t>(n - 1, 2);
          reduced = true;
          break;
        }
        if (stopped) break;
      }
    }
    if (reduced || stopped) continue;
    if (n >= current.size()) break;  // every single element was needed
    n = std::min(n * 2, current.size());
  }
  // One element left: the empty set was tested first, so it is needed.
  result.kept = current;
  result.one_minimal = !stopped;
  return result;
}

}  // namespace orgquake::shrink
