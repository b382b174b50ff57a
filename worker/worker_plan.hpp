#pragma once

// What the controller tells a worker process to do: where the servers are,
// which migrator runs, its clients and their operations, and which
// failpoints it arms or must ask the controller about. Sent as the first
// message on the worker's channel, the `plan` of docs/worker-protocol.md.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "migrator/migrator_client.hpp"
#include "worker/worker_protocol.hpp"

namespace orgquake::worker {

struct OperationPlan {
  std::int64_t op = -1;  ///< id in the trial's history, assigned by the controller
  std::string kind;      ///< history::op_lookup or history::op_migrate
  std::string user;      ///< legacy user id
};

struct ClientPlan {
  std::vector<OperationPlan> ops;
  /// Wait this long after "go" before the first operation (staggered starts).
  std::int64_t start_delay_ms = 0;
};

struct WorkerPlan {
  int worker = 0;
  std::uint64_t seed = 0;  ///< the worker's own stream: lock tokens, failpoint draws
  std::string migrator = "reference";
  std::string phase = "run";
  /// CLOCK_MONOTONIC nanoseconds at the trial's start: history times count from it.
  std::int64_t trial_start_ns = 0;
  /// `pg_conninfo` holds a postgresql:// URL (libpq takes either form).
  migrator::MigratorEndpoints endpoints;
  std::string strategy = "joined";
  bool fast_path = true;
  /// Failpoint configuration the worker applies as is ("name=spec;..."),
  /// on top of observing every failpoint.
  std::string failpoints;
  /// Failpoints whose every firing waits for the controller's decision.
  std::vector<std::string> gated_failpoints;
  std::vector<ClientPlan> clients;

  /// The `plan` message, endpoints as URLs.
  nlohmann::json to_json() const;
  /// Throws std::invalid_argument naming the field that is missing or wrong.
  static WorkerPlan from_json(const nlohmann::json& json);
};

/// What a gated failpoint hit does, as the controller decides.
enum class HitDecision { proceed, error, crash };
const char* name_of(HitDecision decision);

}  // namespace orgquake::worker
