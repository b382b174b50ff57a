#include "invariants/capped_verdict.hpp"

#include <fmt/format.h>

namespace orgquake::invariants {

CappedVerdict::CappedVerdict(std::string rule, int limit)
    : rule_(rule), builder_(std::move(rule)), limit_(limit) {}

void CappedVerdict::violation(std::string symptom, std::string what, nlohmann::json data) {
  if (++found_ <= limit_) {
    builder_.violation(std::move(symptom), std::move(what), std::move(data));
  }
}

Verdict CappedVerdict::finish(const std::string& checked) const {
  auto verdict = builder_.finish(checked);
  if (found_ > limit_) {
    const int omitted = found_ - limit_;
    verdict.summary = fmt::format("{}: {} violations among {}; first: {}", rule_, found_, checked,
                                  verdict.evidence.front().what);
    verdict.evidence.push_back({"violations_omitted",
                                fmt::format("{} more violations are not listed", omitted),
                                {{"omitted", omitted}}});
  }
  return verdict;
}

}  // namespace orgquake::invariants
