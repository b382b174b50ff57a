#include "fakes/ledger.hpp"

namespace orgquake::fakes {

std::uint64_t Ledger::open_request(RequestRecord record) {
  record.seq = requests_.size() + 1;
  requests_.push_back(std::move(record));
  return requests_.back().seq;
}

RequestRecord* Ledger::request(std::uint64_t seq) {
  if (seq == 0 || seq > requests_.size()) return nullptr;
  return &requests_[seq - 1];
}

void Ledger::record_object(ObjectEvent event) {
  event.seq = next_object_seq_++;
  objects_.push_back(std::move(event));
}

void Ledger::record_fault(FaultFiring firing) {
  firing.seq = next_fault_seq_++;
  faults_.push_back(std::move(firing));
}

void Ledger::clear() {
  *this = Ledger{};
}

std::vector<ObjectEvent> Ledger::events(std::string_view object_type,
                                        std::string_view object_id) const {
  std::vector<ObjectEvent> out;
  for (const ObjectEvent& event : objects_) {
    if (event.object_type == object_type && (object_id.empty() || event.object_id == object_id)) {
      out.push_back(event);
    }
  }
  return out;
}

std::vector<std::string> Ledger::created_ids(std::string_view object_type) const {
  std::vector<std::string> out;
  for (const ObjectEvent& event : objects_) {
    if (event.object_type == object_type && event.kind == "created") {
      out.push_back(event.object_id);
    }
  }
  return out;
}

std::vector<RequestRecord> Ledger::requests_to(std::string_view method,
                                               std::string_view path) const {
  std::vector<RequestRecord> out;
  for (const RequestRecord& record : requests_) {
    const std::string_view target = record.target;
    if (record.method == method && target.substr(0, target.find('?')) == path) {
      out.push_back(record);
    }
  }
  return out;
}

nlohmann::json to_json(const RequestRecord& r) {
  return {{"seq", r.seq},
          {"connection_id", r.connection_id},
          {"method", r.method},
          {"target", r.target},
          {"idempotency_key",
           r.idempotency_key.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.idempotency_key)},
          {"status", r.status},
          {"outcome", r.outcome},
          {"fault", r.fault.empty() ? nlohmann::json(nullptr) : nlohmann::json(r.fault)},
          {"fault_id", r.fault_id},
          {"applied", r.applied},
          {"replayed", r.replayed},
          {"started_ms", r.started_ms},
          {"finished_ms", r.finished_ms}};
}

nlohmann::json to_json(const ObjectEvent& e) {
  return {{"seq", e.seq},
          {"request_seq", e.request_seq},
          {"kind", e.kind},
          {"object_type", e.object_type},
          {"object_id", e.object_id},
          {"state", e.state},
          {"at_ms", e.at_ms}};
}

nlohmann::json to_json(const FaultFiring& f) {
  return {{"seq", f.seq},    {"request_seq", f.request_seq}, {"fault_id", f.fault_id},
          {"kind", f.kind},  {"method", f.method},           {"target", f.target},
          {"at_ms", f.at_ms}};
}

nlohmann::json Ledger::to_json(std::uint64_t since) const {
  nlohmann::json requests = nlohmann::json::array();
  for (const auto& r : requests_) {
    if (r.seq > since) requests.push_back(fakes::to_json(r));
  }
  nlohmann::json objects = nlohmann::json::array();
  for (const auto& e : objects_) {
    if (e.seq > since) objects.push_back(fakes::to_json(e));
  }
  nlohmann::json faults = nlohmann::json::array();
  for (const auto& f : faults_) {
    if (f.seq > since) faults.push_back(fakes::to_json(f));
  }
  return {{"requests", std::move(requests)},
          {"objects", std::move(objects)},
          {"faults", std::move(faults)}};
}

}  // namespace orgquake::fakes
