#pragma once

// One trial: a fresh database clone, fresh fakes, worker processes running
// the migrator under the scenario's faults, then heal, liveness and the
// invariant checks. A scenario drives the run phase through this class; the
// controller (controller_run.cpp) does the rest.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/random.hpp"
#include "engine/migrator_catalog.hpp"
#include "engine/options.hpp"
#include "fakes/fault_injector.hpp"
#include "fakes/litellm_fake.hpp"
#include "fakes/stripe_fake.hpp"
#include "faults/fault.hpp"
#include "history/history.hpp"
#include "services/child_process.hpp"
#include "services/services.hpp"
#include "worker/worker_plan.hpp"
#include "world/trial_database.hpp"
#include "world/world.hpp"

namespace orgquake::worker {
class Channel;
}

namespace orgquake::engine {

class Scenario;

/// What every trial of a run shares.
struct TrialEnvironment {
  services::Services& services;
  const world::World& world;
  world::TemplateDatabase& database_template;
  /// The migrator under test: how to start its workers, what it declared.
  const MigratorUnderTest& migrator;
  std::filesystem::path log_dir;  ///< worker logs go here
  std::string run_tag;            ///< unique per run: Redis keys of trials never meet
};

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

/// What a worker runs: its clients and their operations, and its failpoints.
struct WorkerOptions {
  std::vector<worker::ClientPlan> clients;
  std::string failpoints;          ///< armed as given, e.g. "migrate.after_commit=crash"
  std::vector<std::string> gated;  ///< firings that wait for the controller
  std::optional<std::chrono::milliseconds> lock_max_wait;  ///< overrides the option
  std::optional<std::chrono::milliseconds> http_request_timeout;
};

/// A trial is also the target its faults act on (faults::FaultTarget),
/// privately: scenarios act through fault objects, never on the target.
class Trial : private faults::FaultTarget {
 public:
  /// `stacked`: the faults the suite spec stacks beside the scenario.
  Trial(TrialEnvironment& environment, const Scenario& scenario, Options options,
        std::uint64_t seed, int index, std::vector<std::unique_ptr<faults::Fault>> stacked = {});
  Trial(const Trial&) = delete;
  Trial& operator=(const Trial&) = delete;
  /// Kills every worker still running and stops the fakes.
  ~Trial() override;

  // ---- What a scenario works with.
  const Options& options() const { return options_; }
  std::uint64_t seed() const { return seed_; }
  int index() const { return index_; }
  /// A stream of the trial's seed for one purpose: equal labels, equal draws.
  Rng rng(std::string_view label) const { return Rng(seed_).derive(label); }
  const world::World& world() const { return environment_.world; }
  /// `count` distinct legacy user ids of the fixture world, chosen by the
  /// seed under `label`; every edge case comes first, so small trials still
  /// meet them.
  std::vector<std::string> choose_users(int count, std::string_view label) const;
  std::chrono::milliseconds lock_ttl() const override;
  /// What the migrator under test declared: its failpoints, in its order,
  /// and the operation kinds it supports.
  const worker::MigratorDescription& migrator() const { return environment_.migrator.description; }
  /// Throws (the trial becomes unknown, with this line) unless the migrator
  /// declares `failpoint`: a scenario that needs a failpoint the migrator
  /// lacks must say so, never skip it silently.
  void require_failpoint(const std::string& failpoint) const;

  // ---- The fault plan: fault objects (faults/), each planned before it acts.
  /// Adds `fault` to the plan, after the faults the suite stacked beside
  /// the scenario, and returns it. A timed fault (`timing.at`) fires on the
  /// fault clock by itself; any other waits for inject().
  template <class F>
  F& plan(std::unique_ptr<F> fault) {
    F& planned = *fault;
    plan_fault(std::move(fault));
    return planned;
  }
  /// Injects a planned fault now; `site` names the worker of a gated
  /// firing for faults aimed at one.
  void inject(faults::Fault& fault, faults::FaultSite site = {});
  /// Heals a planned fault (nothing when it is not in force).
  void heal(faults::Fault& fault);
  /// Timed faults count from the fault clock, which starts at the run
  /// phase's first go() unless held: a scenario with a prelude (random_mix's
  /// lock holders) holds it, then starts it as its main part begins.
  void hold_fault_clock() { fault_clock_held_ = true; }
  void start_fault_clock();
  /// A choice the scenario drew that is not a fault (which users race, a
  /// failpoint no user can reach): kept beside the plan, compared by repro.
  void note_choice(nlohmann::json choice) { choices_.push_back(std::move(choice)); }

  // ---- Workers.
  /// An operation with the next id of the trial. Throws unless the migrator
  /// supports operations of that kind.
  worker::OperationPlan operation(std::string_view kind, const std::string& user);
  /// Starts a worker process and returns once its clients are connected.
  int start_worker(WorkerOptions options);
  /// Starts several at once and returns once every one is connected; their
  /// indexes, in the order given.
  std::vector<int> start_workers(std::vector<WorkerOptions> fleet);
  /// Lets the given workers' clients start, as near the same moment as
  /// the channel allows.
  void go(const std::vector<int>& workers);
  int run_worker(WorkerOptions options) {
    const int worker = start_worker(std::move(options));
    go({worker});
    return worker;
  }
  /// Pumps until every listed worker has finished or died; false on timeout.
  bool wait_done(const std::vector<int>& workers, std::chrono::milliseconds timeout);
  bool wait_all_done(std::chrono::milliseconds timeout);
  bool worker_finished(int worker) const;

  // ---- Failpoints.
  /// Decides gated firings of `failpoint`; an empty handler removes it (they proceed).
  void on_hit(const std::string& failpoint, HitHandler handler);
  /// A happens-before pair: firings of `after` wait until `before` has fired.
  void order(const std::string& before, const std::string& after);
  /// Pumps until `condition` holds; false on timeout.
  bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);
  /// Pumps for `duration` (faults keep being handled meanwhile).
  void sleep(std::chrono::milliseconds duration);
  /// How many gated firings of `failpoint` have been granted (or skipped).
  int fired(const std::string& failpoint) const;
  /// Counts `failpoint` as fired without a firing (its client finished
  /// without reaching it), so that firings ordered after it may go; the
  /// failpoint order records it as not reached.
  void skip(const std::string& failpoint);
  /// The firings held back by happens-before pairs right now, e.g. "2
  /// firings of lookup.after_load wait for migrate.after_commit"; "" if none.
  /// A run that cannot finish says this, since an unreachable first point
  /// holds its second for good.
  std::string held_summary() const;
  /// Whether the lock of `user` is held right now (its key exists in Redis).
  bool lock_held(const std::string& user) override;

  // ---- The services.
  fakes::StripeFake& stripe() { return *stripe_; }
  fakes::LitellmFake& litellm() { return *litellm_; }
  /// Whether the harness runs Redis itself (and so may stop it).
  bool redis_embedded() const override { return environment_.services.redis_embedded(); }
  /// Users the liveness phase must look up, beyond every user an operation touched.
  void affect(const std::string& user) { affected_.insert(user); }

  // ---- The controller's part.
  void start_phase(std::string_view phase, nlohmann::json value = nlohmann::json::object());
  /// Lets every timed fault play out its plan (still the run phase), then
  /// heals every fault in force, newest first, and waits for the run's
  /// workers, killing those past `timeout` (their operations become info).
  void heal_phase(std::chrono::milliseconds timeout);
  /// Every affected user is looked up again by a fresh worker, faults off.
  void liveness();
  history::History& history() { return history_; }
  /// The plan entries, in plan order: the interleaving, the stacked faults,
  /// then the scenario's.
  const nlohmann::json& fault_plan() const { return fault_plan_; }
  const nlohmann::json& choices() const { return choices_; }
  const std::vector<std::string>& failpoint_order() const { return failpoint_order_; }
  const world::TrialDatabase& database() const { return database_; }
  /// How workers broke the worker protocol, one line each ("migrator X:
  /// worker 2 wrote a line that is not JSON"); any makes the trial unknown.
  const std::vector<std::string>& protocol_violations() const { return violations_; }
  std::int64_t now_ns() const;

 private:
  struct Worker;
  struct PendingHit {
    int worker;
    std::int64_t id;
    HitInfo info;
  };

  /// One planned fault and where it stands.
  struct PlannedFault {
    std::unique_ptr<faults::Fault> fault;
    int index = 0;  ///< in the plan
    bool injected = false, healed = false;
    std::chrono::steady_clock::time_point injected_at{};
  };

  // faults::FaultTarget: what fault objects act on.
  void record(faults::FaultRecord record) override;
  std::uint64_t add_http_fault(const std::string& service, const fakes::FaultSpec& spec) override;
  void remove_http_fault(const std::string& service, std::uint64_t id) override;
  void set_stripe_search_lag(std::chrono::milliseconds lag) override;
  bool redis_running() const override { return environment_.services.redis_running(); }
  void stop_redis() override;
  void start_redis() override;
  int terminate_backends() override;
  bool kill_worker(int worker) override;
  bool worker_exited(int worker) const override;
  bool stop_worker(int worker) override;
  bool continue_worker(int worker) override;
  std::chrono::milliseconds recovery_bound() const override;

  void plan_fault(std::unique_ptr<faults::Fault> fault);
  PlannedFault& planned(faults::Fault& fault);
  /// Injects and heals the timed faults that are due; the next moment one is.
  std::optional<std::chrono::steady_clock::time_point> fire_due_faults();
  /// A fault event in the history, from the controller.
  void record_fault(const std::string& kind, nlohmann::json value, const std::string& user = "");
  Worker& worker(int index);
  int spawn_worker(WorkerOptions options);
  /// Pumps until the worker has said ready; throws if it exits or breaks the
  /// protocol first, or does not answer within 20 s.
  void await_ready(int index);
  migrator::MigratorEndpoints endpoints() const;
  void pump(std::chrono::steady_clock::time_point deadline);
  /// Handles every complete message `worker` has sent, checking each
  /// against the protocol.
  void drain(Worker& worker);
  void handle_message(Worker& worker, const nlohmann::json& message);
  void handle_event(Worker& worker, const nlohmann::json& message);
  /// Sends to a worker within a deadline: one that stopped reading is a violation.
  void send(Worker& worker, const nlohmann::json& message);
  /// Records what `worker` broke of the protocol and kills its process group.
  void violation(Worker& worker, const std::string& what);
  void handle_exit(Worker& worker);
  void handle_hit(PendingHit hit);
  void release_ordered_hits();
  bool may_fire(const std::string& failpoint) const;
  void grant(const PendingHit& hit, worker::HitDecision decision);

  TrialEnvironment& environment_;
  const Scenario& scenario_;
  Options options_;
  std::uint64_t seed_;
  int index_;
  std::chrono::steady_clock::time_point started_;
  world::TrialDatabase database_;
  std::unique_ptr<fakes::StripeFake> stripe_;
  std::unique_ptr<fakes::LitellmFake> litellm_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::int64_t next_op_ = 0;
  history::History history_;
  std::vector<PlannedFault> faults_;
  nlohmann::json fault_plan_ = nlohmann::json::array();
  nlohmann::json choices_ = nlohmann::json::array();
  std::optional<std::chrono::steady_clock::time_point> fault_clock_;
  bool fault_clock_held_ = false;
  std::vector<std::string> failpoint_order_;
  std::map<std::string, HitHandler> handlers_;
  std::vector<std::pair<std::string, std::string>> orderings_;
  /// Failpoints named by the `interleaving` option: gated in every worker
  /// of the run phase.
  std::set<std::string> interleaved_;
  std::map<std::string, int> fired_;
  std::vector<PendingHit> held_hits_;
  std::set<std::string> affected_;
  std::vector<std::string> violations_;
  std::string phase_ = "run";
};

}  // namespace orgquake::engine
