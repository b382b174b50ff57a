#pragma once

// Faults as objects, as Jepsen's nemesis has them: each planned fault is an
// object that knows its parameters, acts once (`inject`) and undoes what it
// did (`heal`), recording each thing it does in the history as it does it. A trial's fault
// plan is the list of these objects, so what a scenario plans is exactly
// what runs, and `repro` compares plans entry by entry.
//
// A fault fires in one of four ways:
//   - when an operation reaches a failpoint (`timing.at_operation` with
//     `timing.at_failpoint` and `timing.hit`): the operation's worker gates
//     that failpoint, and the trial injects the fault while the worker waits
//     at its hit-th firing for that operation, so that a backend is
//     terminated inside the very transaction, or Redis is down before the
//     very lock request. The key is the operation, the failpoint and the hit
//     number, never a moment: a shrunk replay that leaves other operations
//     out meets the same fault at the same step;
//   - when an operation starts (`timing.at_operation` alone): the trial injects it
//     as soon as it learns that the operation with that id was invoked, and
//     heals it `timing.lasting` later (or in the heal phase). Keyed to what
//     it meets, not to a moment, it stays with its operation when a shrunk
//     replay leaves other operations out, and never fires when its own
//     operation is left out;
//   - on the fault clock (`timing.at`): the trial injects it that long after
//     the run phase's first clients start, and heals it `timing.lasting`
//     later (or in the heal phase). An outage is a span of time, and faults
//     stacked beside a scenario in a suite spec fire this way unless they
//     name an operation;
//   - by the scenario, at a moment only it knows (a gated failpoint firing,
//     a lookup that finished): `Trial::inject(fault, site)`.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace orgquake::fakes {
class StripeFake;
struct FaultSpec;
}  // namespace orgquake::fakes

namespace orgquake::faults {

/// One thing a fault did: one `fault` event in the history.
struct FaultRecord {
  std::string kind;  ///< "crash", "pause", "resume", "redis_stop", ...
  nlohmann::json value = nlohmann::json::object();
  std::string user;  ///< the user it concerns, if any
};

/// Where a fault acts: the worker (and client) of the gated firing it was
/// injected at, for faults aimed at one; -1 when it fires on its own.
struct FaultSite {
  int worker = -1;
  int client = -1;
};

/// What faults act on: the trial's fakes, services and workers. The trial
/// implements it; tests implement it with a recording double.
class FaultTarget {
 public:
  virtual ~FaultTarget() = default;
  /// A fault event in the history, stamped now: a fault records what it is
  /// about to do before it does it, so that what follows from it comes after.
  virtual void record(FaultRecord record) = 0;
  /// Installs an HTTP fault on the fake named `service` ("stripe" or
  /// "litellm"); returns its id there.
  virtual std::uint64_t add_http_fault(const std::string& service,
                                       const fakes::FaultSpec& spec) = 0;
  /// Removes it; returns how many requests it fired on.
  virtual std::uint64_t remove_http_fault(const std::string& service, std::uint64_t id) = 0;
  virtual void set_stripe_search_lag(std::chrono::milliseconds lag) = 0;
  /// Whether the harness runs Redis itself (and so may stop it).
  virtual bool redis_embedded() const = 0;
  virtual bool redis_running() const = 0;
  virtual void stop_redis() = 0;
  /// Starts Redis empty, as a lock store without persistence comes back.
  virtual void start_redis() = 0;
  /// Terminates the trial database's client backends inside a transaction;
  /// returns how many. With a worker and client: only the backends that
  /// client named as its own (application_name "orgquake:w<W>:c<C>", as it
  /// names its Redis connection), all of them when it names none.
  virtual int terminate_backends(const FaultSite& of) = 0;
  /// SIGKILL to the worker's process group; what it wrote before dying is
  /// still read, then its open operations become `info`. False if it had
  /// already exited.
  virtual bool kill_worker(int worker) = 0;
  virtual bool worker_exited(int worker) const = 0;
  /// SIGSTOP / SIGCONT to the worker's process group. False when there was
  /// nothing to do (exited, or already in that state).
  virtual bool stop_worker(int worker) = 0;
  virtual bool continue_worker(int worker) = 0;
  /// Whether the lock of `user` is held right now.
  virtual bool lock_held(const std::string& user) = 0;
  virtual std::chrono::milliseconds lock_ttl() const = 0;
  /// How long past the TTL the lock-expiry invariant allows for recovery.
  virtual std::chrono::milliseconds recovery_bound() const = 0;
};

/// When a fault fires on its own, on the fault clock. Without `at` the
/// scenario injects it.
struct FaultTiming {
  std::optional<std::chrono::milliseconds> at;
  /// Healed this long after it was injected; without it, in the heal phase.
  std::optional<std::chrono::milliseconds> lasting;
  /// Injected when the operation with this id is invoked (instead of `at`).
  std::optional<std::int64_t> at_operation = std::nullopt;
  /// With at_operation: injected when that operation reaches this
  /// failpoint for the `hit`-th time (from 1), while its worker waits there.
  std::optional<std::string> at_failpoint = std::nullopt;
  int hit = 1;
  /// {"at_ms", "at_operation", "at_failpoint", "hit", "lasting_ms"}, the ones set.
  nlohmann::json to_json() const;
  bool timed() const { return at.has_value() || at_operation.has_value(); }
};

class Fault {
 public:
  virtual ~Fault() = default;
  /// The plan's name for this kind of fault: "redis_outage", "kill_holder", ...
  virtual std::string_view kind() const = 0;
  /// The plan entry: {"kind", parameters..., timing}. Equal plans replay
  /// equal faults.
  nlohmann::json plan() const;
  /// Acts, recording what it does. Throws std::runtime_error when it
  /// cannot (the trial is then unknown).
  virtual void inject(FaultTarget& target, const FaultSite& site) = 0;
  /// Undoes what inject did and is still in force; nothing for an instant
  /// fault (a kill, a backend termination).
  virtual void heal(FaultTarget& target);
  /// Whether inject leaves something in force until heal.
  virtual bool lasting() const { return false; }
  /// Whether it needs a site (a worker) to act on: such a fault cannot be
  /// timed.
  virtual bool needs_site() const { return false; }

  FaultTiming timing;

 protected:
  /// The kind-specific parameters of the plan entry.
  virtual nlohmann::json parameters() const = 0;
};

}  // namespace orgquake::faults
