#include "results/verdict.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace orgquake::results {

const char* name_of(Validity validity) {
  switch (validity) {
    case Validity::valid:
      return "valid";
    case Validity::unknown:
      return "unknown";
    case Validity::invalid:
      return "invalid";
  }
  return "unknown";
}

nlohmann::json Verdict::to_json() const {
  nlohmann::json evidence_json = nlohmann::json::array();
  for (const auto& e : evidence) evidence_json.push_back({{"what", e.what}, {"data", e.data}});
  return {{"verdict", name_of(validity)}, {"summary", summary}, {"evidence", evidence_json}};
}

void VerdictBuilder::violation(std::string what, nlohmann::json data) {
  evidence_.push_back({std::move(what), std::move(data)});
}

Verdict VerdictBuilder::finish(const std::string& checked) const {
  if (evidence_.empty()) return Verdict::valid(fmt::format("{}: held for {}", rule_, checked));
  return Verdict{Validity::invalid,
                 fmt::format("{}: {} violation{} among {}; first: {}", rule_, evidence_.size(),
                             evidence_.size() == 1 ? "" : "s", checked, evidence_.front().what),
                 evidence_};
}

Verdict merge(const std::vector<Verdict>& verdicts) {
  Verdict merged = Verdict::valid("no checks");
  std::vector<std::string> summaries;
  for (const auto& v : verdicts) {
    merged.validity = std::max(merged.validity, v.validity);
    merged.evidence.insert(merged.evidence.end(), v.evidence.begin(), v.evidence.end());
    if (v.validity == merged.validity) summaries.push_back(v.summary);
  }
  if (!verdicts.empty()) {
    merged.summary =
        fmt::format("{} ({} checks)", summaries.empty() ? "" : summaries.front(), verdicts.size());
  }
  return merged;
}

}  // namespace orgquake::results
