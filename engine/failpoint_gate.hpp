#pragma once

// The failpoint gate: what happens to a gated failpoint firing. A worker
// whose failpoint is gated stops at it and asks; the gate answers in one of
// two ways. A happens-before pair (`order`, the `interleaving` option) holds
// every firing of its second point until its first has fired once, as
// RocksDB's sync points do inside one process, but across processes. A
// scenario's handler (`on_hit`) decides what a firing does (proceed, crash),
// after acting on the trial if it likes (pausing the worker, say).
//
// The gate knows nothing of processes or channels: firings come in through
// offer(), answers go out through the sink it was built with. That is what
// lets tests drive it, and the interleavings, with made-up firings
// (tests/engine/failpoint_gate_test.cpp).

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "engine/interleaving.hpp"
#include "worker/worker_plan.hpp"

namespace orgquake::engine {

/// A gated failpoint firing, as the controller sees it.
struct HitInfo {
  int worker = -1;
  int client = -1;
  std::int64_t op = -1;
  std::string user;
  std::string failpoint;
  std::int64_t time_ns = 0;
};

/// Decides what a gated firing does. It may act on the trial first (pause
/// or kill the worker, start another); it runs on the controller's thread.
using HitHandler = std::function<worker::HitDecision(const HitInfo&)>;
/// Sees every firing as it is decided, with its hit number for its
/// operation (from 1), before the scenario's handler: the trial injects the
/// faults keyed to it here. Returns what it did, in the words of the
/// decision line ("fault 3 backend_kill"), or "" for nothing.
using HitObserver = std::function<std::string(const HitInfo&, int hit)>;

/// A firing waiting for its answer.
struct GatedHit {
  std::int64_t id = 0;  ///< the worker's id of the firing, echoed in the grant
  HitInfo info;
  /// Whether the scenario gated this failpoint in this worker. Only such
  /// firings go to the scenario's handler; one gated for the interleaving
  /// only just waits its turn, then proceeds.
  bool scenario_gated = false;
};

class FailpointGate {
 public:
  /// Receives every decided firing, in the order decided: the trial records
  /// it and answers the worker.
  using Sink = std::function<void(const GatedHit&, worker::HitDecision)>;
  explicit FailpointGate(Sink sink) : sink_(std::move(sink)) {}

  /// A happens-before pair: firings of `after` wait until `before` has
  /// fired. Either may name one operation's firing ("failpoint@op",
  /// engine/interleaving.hpp).
  void order(const std::string& before, const std::string& after);
  /// A named interleaving: its pairs, ordered; its failpoints must then be
  /// gated in every worker of the run phase (interleaved()).
  void interleave(const std::vector<HappensBefore>& pairs);
  /// The failpoints of the interleaving: every run-phase worker gates them,
  /// so that the gate sees each firing and can hold it for its turn.
  const std::set<std::string>& interleaved() const { return interleaved_; }
  /// Decides scenario-gated firings of `failpoint`; an empty handler removes
  /// it (they proceed).
  void on_hit(const std::string& failpoint, HitHandler handler);
  /// Shown every firing before it is decided (see HitObserver).
  void observe(HitObserver observer) { observer_ = std::move(observer); }

  /// A firing arrives: decided now (handler, else proceed) unless an
  /// ordering holds it; then every held firing that may now go is decided.
  void offer(GatedHit hit);
  /// Counts `failpoint` as fired without a firing (its client finished
  /// without reaching it), so that firings ordered after it may go.
  void skip(const std::string& failpoint);
  /// Operation `op` finished: a step of it that never fired never will, so
  /// the firings ordered after such a step may go.
  void operation_ended(std::int64_t op);
  /// The worker is gone: its held firings are dropped (nobody would read
  /// their answers).
  void forget_worker(int worker);
  /// The heal phase: no handler, ordering or interleaving any more; every
  /// held firing proceeds.
  void open();

  /// How many firings of `failpoint` were decided (or skipped).
  int fired(const std::string& failpoint) const;
  /// How many firings are held right now.
  std::size_t held() const { return held_.size(); }
  /// The held firings and what they wait for, e.g. "2 firings of
  /// lookup.after_load wait for migrate.after_commit"; "" if none. A run
  /// that cannot finish says this: an unreachable first point holds its
  /// second for good.
  std::string held_summary() const;
  /// What the gate decided, in order, in the words results.json keeps:
  /// "w0.c1 op 7 migrate.before_commit#1 -> crash" for a scenario's firing
  /// (worker, client, operation, failpoint and the operation's hit number),
  /// "interleaving: X first fired" for an interleaving's first firing of a
  /// point, "X -> not reached" for a skip. Which of many racing clients
  /// reaches an interleaved point first is not the plan's to decide, so
  /// only that the point fired is kept. A firing a fault was keyed to reads
  /// "w1.c0 op 7 migrate.before_commit#1 -> fault 2 backend_kill, proceed".
  const std::vector<std::string>& decisions() const { return decisions_; }

 private:
  struct Ordering {
    InterleavingStep before, after;
    std::string before_text;
  };
  bool may_fire(const HitInfo& hit) const;
  bool happened(const InterleavingStep& step) const;
  void decide(GatedHit hit);
  void release_held();

  Sink sink_;
  std::vector<Ordering> orderings_;
  /// Operations that finished (operation_ended).
  std::set<std::int64_t> ended_;
  std::set<std::string> interleaved_;
  std::map<std::string, HitHandler> handlers_;
  HitObserver observer_;
  std::map<std::string, int> fired_;
  /// Firings decided per (operation, failpoint): the hit number of each.
  /// Every gated firing counts, whoever gated it.
  std::map<std::pair<std::int64_t, std::string>, int> hits_of_operation_;
  std::vector<GatedHit> held_;
  std::vector<std::string> decisions_;
};

}  // namespace orgquake::engine
