#pragma once

// A trial's fault plan: the fault objects it plans, in order, each with
// where it stands (injected, healed, left out of a reduced replay), and the fault clock that timed
// faults fire on. The plan's entries (`entries()`) are what results.json keeps and `repro`
// compares: what is planned is exactly what runs.
//
// It acts on a FaultTarget and is handed the time, so that tests drive it
// with a recording target and a made-up clock (tests/faults/).

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "faults/fault.hpp"

namespace orgquake::faults {

class FaultPlan {
 public:
  using Clock = std::chrono::steady_clock;

  /// Plans `fault` after those planned before. Throws std::logic_error for
  /// a fault on the clock or at an operation's start that needs a site (a
  /// worker): neither names one; for one timed both ways; and for a
  /// failpoint key without its operation or with a hit number below 1.
  Fault& add(std::unique_ptr<Fault> fault);
  /// Only the faults at these entry indexes act (a replay that leaves some
  /// out, `orgquake shrink`): the others are still planned, in their places,
  /// so that every entry keeps its index, but never inject. Call before add().
  void act_only(std::set<int> entries) { acting_ = std::move(entries); }
  /// A plan entry that is not a fault object: the interleaving the
  /// failpoint gate enforces. It comes after every fault in entries(), so
  /// that naming an interleaving (as `orgquake shrink` does) leaves every
  /// fault's index, which replays and decision lines use, as it was.
  void add_entry(nlohmann::json entry) { trailing_.push_back(std::move(entry)); }

  /// Injects a planned fault now; false (nothing done) for a fault left
  /// out. Throws std::logic_error for a fault that was not planned, or one
  /// injected twice.
  bool inject(Fault& fault, FaultTarget& target, const FaultSite& site, Clock::time_point now);
  /// Whether a planned fault has acted (false for one left out).
  bool acted(const Fault& fault) const;
  /// Heals a planned fault in force; nothing otherwise.
  void heal(Fault& fault, FaultTarget& target);

  /// Timed faults count from the clock's start. Held, it does not start
  /// until start_clock() is called again after release (a scenario with a
  /// prelude holds it until its main part begins).
  void hold_clock() { held_ = true; }
  bool clock_held() const { return held_; }
  /// Starts the clock at `now` unless it has started already.
  void start_clock(Clock::time_point now);
  bool clock_started() const { return clock_.has_value(); }

  /// Injects and heals the timed faults due at `now`, in plan order (two
  /// due at once act in a replayable order); returns the next moment one
  /// is due, if any. Nothing before the clock starts.
  std::optional<Clock::time_point> fire_due(FaultTarget& target, Clock::time_point now);
  /// Injects the faults keyed to operation `op` alone (timing.at_operation
  /// without at_failpoint), in plan order: the trial calls it when it learns
  /// that `op` was invoked.
  void operation_invoked(std::int64_t op, FaultTarget& target, Clock::time_point now);
  /// The failpoints at which faults wait for operation `op` (at_operation
  /// with at_failpoint), leaving out those left out of this replay: the
  /// worker that runs `op` gates them, so that the trial sees the firing.
  std::set<std::string> failpoints_awaited_by(std::int64_t op) const;
  /// Operation `op` reached `failpoint` for the `hit`-th time, and its
  /// worker waits there: injects the faults keyed to exactly that, in plan
  /// order, at `site`; returns the plan entries of those that acted.
  std::vector<int> failpoint_reached(std::int64_t op, const std::string& failpoint, int hit,
                                     FaultTarget& target, const FaultSite& site,
                                     Clock::time_point now);
  /// Whether a timed fault has yet to play out its plan (to be injected on
  /// the clock, or healed after its `lasting`). A fault waiting for its
  /// operation is not: the operation may never come.
  bool timed_pending() const;
  /// Heals every fault still in force, newest first: a later fault may
  /// stand on an earlier one.
  void heal_all(FaultTarget& target);

  /// The plan's entries: the faults in plan order, then the other entries.
  nlohmann::json entries() const;
  std::size_t size() const { return faults_.size(); }

 private:
  struct Planned {
    std::unique_ptr<Fault> fault;
    int index = 0;  ///< among the plan's entries
    bool injected = false, healed = false;
    bool left_out = false;  ///< planned, never acts (act_only)
    Clock::time_point injected_at{};
  };
  Planned& find(Fault& fault);
  const Planned& find(const Fault& fault) const;

  std::vector<Planned> faults_;
  nlohmann::json entries_ = nlohmann::json::array();  ///< the faults'
  nlohmann::json trailing_ = nlohmann::json::array();
  std::optional<Clock::time_point> clock_;
  bool held_ = false;
  std::optional<std::set<int>> acting_;
};

}  // namespace orgquake::faults
