#pragma once

// The worker protocol (docs/worker-protocol.md): its version, its message
// types, the error names an operation may fail with, and the checks the
// controller makes of what a worker declares. Both ends of the channel use
// it: the C++ worker (worker.cpp) and the controller (trial.cpp).

#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace orgquake::worker {

/// The version the first message of each side carries.
inline constexpr int protocol_version = 1;

/// The environment variable naming the channel's file descriptor.
inline constexpr const char* channel_fd_variable = "ORGQUAKE_CHANNEL_FD";
/// The longest line either side may send.
inline constexpr std::size_t max_message_bytes = 1 << 20;

/// The messages of the channel, by their "t" field.
namespace message {
inline constexpr const char* describe = "describe";  ///< controller: only declare yourself
inline constexpr const char* plan = "plan";          ///< controller: what to run
inline constexpr const char* ready = "ready";        ///< worker: declarations, clients connected
inline constexpr const char* go = "go";              ///< controller: start the operations
inline constexpr const char* event = "event";        ///< worker: a history event
inline constexpr const char* hit = "hit";            ///< worker: a gated failpoint fired; waits
inline constexpr const char* grant = "grant";        ///< controller: what the gated hit does
inline constexpr const char* done = "done";          ///< worker: every client finished
inline constexpr const char* error = "error";        ///< worker: cannot run the plan (one line)
}  // namespace message

/// The operation kind every worker answers without touching a server, and
/// the reserved failpoint it fires: a worker's protocol handling can be
/// checked alone (sdk/python/orgquake/conformance.py).
inline constexpr std::string_view op_echo = "echo";
inline constexpr std::string_view echo_failpoint = "protocol.echo";

/// The name each client gives its connections, "orgquake:w3:c0": to Redis
/// (CLIENT SETNAME), so that the harness, watching Redis (MONITOR), knows
/// the lock commands of that client's operations; and to PostgreSQL
/// (application_name), so that a backend kill at one of its firings
/// terminates that client's session, not every busy one.
std::string connection_name(int worker, int client);
/// The HTTP header naming the operation an API request serves (its id, in
/// decimal): an HTTP fault scoped to one operation (FaultSpec::operation)
/// meets only the requests that carry its id.
inline constexpr const char* operation_header = "Orgquake-Operation";

/// The worker and client a connection name names; nullopt for any other name.
std::optional<std::pair<int, int>> parse_connection_name(std::string_view name);

/// An error name an operation may fail with, and whether such a failure is
/// definite (the operation certainly changed nothing the invariants see).
struct ErrorName {
  std::string_view name;
  bool definite;
};
/// The documented list; a worker that reports a name outside it breaks the protocol.
const std::vector<ErrorName>& error_names();
const ErrorName* find_error_name(std::string_view name);

/// `text` as one line of at most `limit` characters: what a worker says goes
/// into one-line messages, whatever its libraries put in their errors.
std::string one_line(std::string_view text, std::size_t limit = 300);

/// Whether `value` is the integer `protocol_version` (not a number that
/// merely converts to it).
bool is_protocol_version(const nlohmann::json& value);

/// What a worker broke of the protocol, in words that follow "worker N ".
class ProtocolViolation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct DeclaredFailpoint {
  std::string name;
  std::string description;
};

/// What a migrator declares of itself in its `ready` message.
struct MigratorDescription {
  std::string name;      ///< as the worker calls itself
  std::string language;  ///< "c++", "python", ...
  std::vector<DeclaredFailpoint> failpoints;
  std::vector<std::string> operations;

  bool declares(std::string_view failpoint) const;
  bool supports(std::string_view operation) const;
  nlohmann::json to_json() const;
  /// Reads a `ready` message. Throws ProtocolViolation naming what is wrong
  /// (another protocol version, a failpoint declared twice, a bad name).
  static MigratorDescription from_ready(const nlohmann::json& ready);
};

}  // namespace orgquake::worker
