#pragma once

// The history of one trial: every operation a client invoked and how it
// ended, every fault the controller injected and every failpoint that fired,
// on one clock. Jepsen's model: an operation is an `invoke` followed by `ok`
// (it happened), `fail` (it certainly did not take effect as asked) or `info`
// (its outcome is unknown, because its worker died or was abandoned).

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace orgquake::history {

/// `rollout`: a change the controller made to the application, as a
/// deployment would: the rollout flag set (kind "flag"), the database backed
/// up ("backup") or restored from that backup ("restore").
enum class EventType { invoke, ok, fail, info, fault, failpoint, phase, redis, rollout };

const char* name_of(EventType type);
/// nullopt for a name that is none of the above.
std::optional<EventType> event_type_from(std::string_view name);

/// Worker number of the controller itself (faults, phases).
inline constexpr int controller = -1;

/// The phases of a trial, in order. A `phase` event marks the start of each.
inline constexpr std::string_view phase_run = "run";
inline constexpr std::string_view phase_heal = "heal";
inline constexpr std::string_view phase_liveness = "liveness";

/// Operation kinds (the `kind` of invoke/ok/fail/info events).
inline constexpr std::string_view op_lookup = "lookup";    ///< get_user_verified
inline constexpr std::string_view op_migrate = "migrate";  ///< lock + migrate_user (backfill)
/// A request under the rollout flag: the legacy path or the org path
/// (migrator/dual_path.hpp), with the other path compared.
inline constexpr std::string_view op_serve = "serve";
/// After a restore from backup: the migration's external half undone
/// (Migrator::compensate_user).
inline constexpr std::string_view op_compensate = "compensate";

struct Event {
  EventType type = EventType::invoke;
  /// Nanoseconds since the trial started, on CLOCK_MONOTONIC (one clock for
  /// every process on the machine, so workers' events merge in order).
  std::int64_t time_ns = 0;
  int worker = controller;
  int client = -1;       ///< the fiber within the worker; -1 when none
  std::int64_t op = -1;  ///< operation id, unique within the trial; invoke and completion share it
  /// invoke/ok/fail/info: the operation kind (op_lookup, op_migrate).
  /// fault: what was done ("crash", "pause", "resume", "http_fault", "redis_stop",
  ///        "redis_start", "backend_kill", "heal", ...).
  /// failpoint: the failpoint's name. phase: the phase's name.
  /// rollout: what changed ("flag", "backup", "restore").
  /// redis: a write to a lock key as Redis ran it ("set", "del", ...,
  ///        lowercase), or the lock observer's own marker (redis_monitor_*).
  std::string kind;
  std::string user;   ///< legacy user id, when the event concerns one user
  std::string phase;  ///< operations: the phase they were invoked in
  /// ok: {"org_id", "verified", "lock_waits", "migrated_here"};
  /// fail/info: {"error", "message", "lock_waits"};
  /// failpoint: {"action", "argument", "decision"};
  /// fault: details, e.g. {"holds_lock_of": user, "ttl_ms", "recovery_bound_ms"};
  /// phase liveness: {"users": [...], "bound_ms"};
  /// rollout flag: {"percentage", "allow_list", "version"} as set;
  /// rollout restore: {"flag_version": the flag's version in the backup,
  ///        "compensation": who undoes the external half, in words};
  /// ok of a serve: {"path": "legacy"|"org", "flag_version", "answers",
  ///        "compared", "mismatches", "verified", "migrated_here", "org_id"};
  /// redis: {"conn", "args", and "worker"/"client" when the connection is
  ///        named for one; "script" (the EVAL's arguments) when a script ran
  ///        it}; the `user` is the lock's.
  nlohmann::json value = nlohmann::json::object();

  nlohmann::json to_json() const;
  /// Throws std::invalid_argument naming the field that is wrong.
  static Event from_json(const nlohmann::json& json);
};

/// The events of one trial in time order (ties keep insertion order).
class History {
 public:
  /// Adds `event`, after any marker held back (hold()).
  void add(Event event);
  /// Keeps `marker` back until release() or the next add(), and gives it
  /// that moment's time (never earlier than its own): a phase whose start
  /// is when its first thing happens, not when it was announced. A hold
  /// releases the marker held before it; finish() adds one still held at
  /// its own time.
  void hold(Event marker);
  /// Adds the held marker, if any, at `time_ns`.
  void release(std::int64_t time_ns);
  /// Sorts by time; call once every process has reported.
  void finish();

  const std::vector<Event>& events() const { return events_; }
  bool empty() const { return events_.empty(); }

 private:
  std::vector<Event> events_;
  std::optional<Event> held_;
};

}  // namespace orgquake::history
