#include "faults/fault.hpp"

namespace orgquake::faults {

nlohmann::json FaultTiming::to_json() const {
  nlohmann::json json = nlohmann::json::object();
  if (at) json["at_ms"] = at->count();
  if (at_operation) json["at_operation"] = *at_operation;
  if (at_failpoint) {
    json["at_failpoint"] = *at_failpoint;
    json["hit"] = hit;
  }
  if (lasting) json["lasting_ms"] = lasting->count();
  return json;
}

nlohmann::json Fault::plan() const {
  nlohmann::json entry = {{"kind", std::string(kind())}};
  entry.update(parameters());
  if (timing.timed() || timing.lasting) entry["timing"] = timing.to_json();
  return entry;
}

void Fault::heal(FaultTarget&) {}

}  // namespace orgquake::faults
