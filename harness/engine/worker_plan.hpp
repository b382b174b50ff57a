#pragma once

// What the controller tells a worker process to do: where the servers are,
// which migrator runs, its clients and their operations, and which
// failpoints it arms or must ask the controller about. Sent as the first
// message on the worker's channel.

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "migrator/migrator_client.hpp"

namespace orgquake::engine {

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
  migrator::MigratorEndpoints endpoints;
  std::string strategy = "joined";
  bool fast_path = true;
  /// Failpoint configuration the worker applies as is ("name=spec;..."),
  /// on top of observing every failpoint.
  std::string failpoints;
  /// Failpoints whose every firing waits for the controller's decision.
  std::vector<std::string> gated_failpoints;
  std::vector<ClientPlan> clients;

  nlohmann::json to_json() const;
  static WorkerPlan from_json(const nlohmann::json& json);
};

/// The messages of the channel, by their "t" field.
namespace message {
inline constexpr const char* ready = "ready";  ///< worker: every client connected
inline constexpr const char* go = "go";        ///< controller: start the operations
inline constexpr const char* event = "event";  ///< worker: a history event
inline constexpr const char* hit = "hit";      ///< worker: a gated failpoint fired; waits
inline constexpr const char* grant = "grant";  ///< controller: what the gated hit does
inline constexpr const char* done = "done";    ///< worker: every client finished
inline constexpr const char* error = "error";  ///< worker: cannot run the plan (one line)
}  // namespace message

/// What a gated failpoint hit does, as the controller decides.
enum class HitDecision { proceed, error, crash };
const char* name_of(HitDecision decision);

}  // namespace orgquake::engine
