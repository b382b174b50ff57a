#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace orgquake::fakes {

/// One HTTP request as the fake saw it. `status` is 0 when no response was
/// sent (reset, held, or the server stopped first).
struct RequestRecord {
  std::uint64_t seq = 0;  ///< 1, 2, 3... in arrival order
  std::uint64_t connection_id = 0;
  std::string method;
  std::string target;  ///< path and query as sent
  std::string idempotency_key;
  int status = 0;
  std::string outcome;  ///< "responded", "reset", "held", "abandoned"
  std::string fault;    ///< the kind of the fault that fired, empty if none
  std::uint64_t fault_id = 0;
  bool applied = false;   ///< the request's effect reached the fake's state
  bool replayed = false;  ///< answered from the idempotency store
  std::int64_t started_ms = 0;
  std::int64_t finished_ms = 0;
};

/// A change to one object: created, updated or deleted, with its state after.
struct ObjectEvent {
  std::uint64_t seq = 0;
  std::uint64_t request_seq = 0;  ///< 0 when loaded from the fixture world
  std::string kind;               ///< "created", "updated", "deleted"
  std::string object_type;        ///< "customer", "subscription", "team", "key", ...
  std::string object_id;
  nlohmann::json state;  ///< the object after the change
  std::int64_t at_ms = 0;
};

/// One firing of an injected fault.
struct FaultFiring {
  std::uint64_t seq = 0;
  std::uint64_t request_seq = 0;
  std::uint64_t fault_id = 0;
  std::string kind;
  std::string method;
  std::string target;
  std::int64_t at_ms = 0;
};

/// Everything a fake did, in order: the evidence invariant checkers read.
/// Plain data; a copy is a consistent snapshot.
class Ledger {
 public:
  /// Opens a record for a request that just arrived; returns its seq.
  std::uint64_t open_request(RequestRecord record);
  RequestRecord* request(std::uint64_t seq);
  void record_object(ObjectEvent event);
  void record_fault(FaultFiring firing);
  void clear();

  const std::deque<RequestRecord>& requests() const { return requests_; }
  const std::deque<ObjectEvent>& objects() const { return objects_; }
  const std::deque<FaultFiring>& faults() const { return faults_; }

  /// Object events of one type ("customer") and optionally one id.
  std::vector<ObjectEvent> events(std::string_view object_type,
                                  std::string_view object_id = {}) const;
  /// Ids of objects of `object_type` created, in order (duplicates impossible).
  std::vector<std::string> created_ids(std::string_view object_type) const;
  /// Requests whose method and path (query excluded) match exactly.
  std::vector<RequestRecord> requests_to(std::string_view method, std::string_view path) const;

  /// Everything with a seq above `since` (per list), so a poller can page.
  nlohmann::json to_json(std::uint64_t since = 0) const;

 private:
  // Deques: appending never moves the records already there, so a long run
  // does not stall on a reallocation copying hundreds of thousands of them.
  std::deque<RequestRecord> requests_;
  std::deque<ObjectEvent> objects_;
  std::deque<FaultFiring> faults_;
  std::uint64_t next_object_seq_ = 1;
  std::uint64_t next_fault_seq_ = 1;
};

nlohmann::json to_json(const RequestRecord& record);
nlohmann::json to_json(const ObjectEvent& event);
nlohmann::json to_json(const FaultFiring& firing);

}  // namespace orgquake::fakes
