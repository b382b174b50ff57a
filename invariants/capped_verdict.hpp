#pragma once

// Evidence capped so that a broken run of 10k operations still makes a
// readable report.

#include <string>

#include <nlohmann/json.hpp>

#include "results/verdict.hpp"

namespace orgquake::invariants {

using results::Verdict;
using results::VerdictBuilder;

/// A VerdictBuilder that keeps the first `limit` violations as evidence and
/// counts the rest, in the summary and in a last entry, whose symptom is
/// `violations_omitted` (its data: {"omitted": n}).
class CappedVerdict {
 public:
  explicit CappedVerdict(std::string rule, int limit = 20);
  /// `symptom` is the evidence's stable code (results::Evidence::symptom).
  void violation(std::string symptom, std::string what, nlohmann::json data);
  int found() const { return found_; }
  Verdict finish(const std::string& checked) const;

 private:
  std::string rule_;
  VerdictBuilder builder_;
  int limit_;
  int found_ = 0;
};

}  // namespace orgquake::invariants
