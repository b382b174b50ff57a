#include "results/verdict.hpp"

#include <algorithm>
#include <stdexcept>

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

Validity validity_from_name(const std::string& name) {
  for (auto v : {Validity::valid, Validity::unknown, Validity::invalid}) {
    if (name == name_of(v)) return v;
  }
  throw std::invalid_argument("not a verdict: " + name);
}

nlohmann::json Evidence::to_json() const {
  return {{"symptom", symptom}, {"what", what}, {"data", data}};
}

Evidence Evidence::from_json(const nlohmann::json& json) {
  Evidence e;
  e.symptom = json.value("symptom", std::string());
  e.what = json.at("what").get<std::string>();
  if (auto data = json.find("data"); data != json.end()) e.data = *data;
  return e;
}

nlohmann::json Verdict::to_json() const {
  nlohmann::json evidence_json = nlohmann::json::array();
  for (const auto& e : evidence) evidence_json.push_back(e.to_json());
  return {{"verdict", name_of(validity)}, {"summary", summary}, {"evidence", evidence_json}};
}

Verdict Verdict::from_json(const nlohmann::json& json) {
  Verdict v;
  v.validity = validity_from_name(json.at("verdict").get<std::string>());
  v.summary = json.value("summary", std::string());
  if (auto evidence = json.find("evidence"); evidence != json.end()) {
    for (const auto& e : *evidence) v.evidence.push_back(Evidence::from_json(e));
  }
  return v;
}

void VerdictBuilder::violation(std::string symptom, std::string what, nlohmann::json data) {
  evidence_.push_back({std::move(symptom), std::move(what), std::move(data)});
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
