#pragma once

// One trial: a fresh database clone, fresh fakes, worker processes running
// the migrator under the scenario's faults, then heal, liveness and the
// invariant checks. A scenario drives the run phase through this class; the
// controller (controller_run.cpp) does the rest.
//
// The trial owns the phases (run, heal, liveness) and what a scenario works
// with; the parts it strings together live apart, each testable alone:
//   - the worker fleet (worker_fleet.hpp): processes, channels, the protocol;
//   - the failpoint gate (failpoint_gate.hpp): decisions and happens-before
//     orderings of gated firings, with no processes;
//   - the fault plan (faults/fault_plan.hpp): the fault objects, their
//     state and the fault clock.

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
#include "engine/deployment.hpp"
#include "engine/failpoint_gate.hpp"
#include "engine/lock_observer.hpp"
#include "engine/migrator_catalog.hpp"
#include "engine/option_reader.hpp"
#include "engine/options.hpp"
#include "engine/trial_replay.hpp"
#include "engine/worker_fleet.hpp"
#include "engine/worker_spares.hpp"
#include "fakes/fault_injector.hpp"
#include "faults/fault.hpp"
#include "faults/fault_plan.hpp"
#include "history/history.hpp"
#include "services/services.hpp"
#include "services/session_pool.hpp"
#include "worker/worker_plan.hpp"
#include "world/trial_database.hpp"
#include "world/world.hpp"

// Declared only: the fakes' headers bring Boost.Beast, and this header is
// read by every scenario.
namespace orgquake::fakes {
class LitellmFake;
class StripeFake;
}  // namespace orgquake::fakes

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
  /// Where workers connect to PostgreSQL when set: sessions that outlive a
  /// trial, to a trial database restored in place (TemplateDatabase::checkout).
  /// Unset: each trial a new clone, each client a new backend.
  services::SessionPool* session_pool = nullptr;
  /// Worker processes started between trials, waiting for their plans; none:
  /// each worker's process is started when the scenario starts it.
  WorkerSpares* spares = nullptr;
};

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
  /// `replay`: the faults and operations a reduced replay keeps (its seed is `seed`).
  Trial(TrialEnvironment& environment, const Scenario& scenario, Options options,
        std::uint64_t seed, int index, std::vector<std::unique_ptr<faults::Fault>> stacked = {},
        std::optional<TrialReplay> replay = std::nullopt);
  Trial(const Trial&) = delete;
  Trial& operator=(const Trial&) = delete;
  /// Kills every worker still running and stops the fakes.
  ~Trial() override;

  // ---- What a scenario works with.
  /// The resolved options, as results.json records them. A scenario reads
  /// its own through ScenarioOf, once; the trial's are settings().
  const Options& options() const { return options_; }
  /// What the engine read of the options for every trial: lock TTL and
  /// waits, loading strategy, bounds, the run timeout, the interleaving.
  const TrialSettings& settings() const { return settings_; }
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
  /// the scenario, and returns it. A fault keyed to an operation
  /// (`timing.at_operation`) fires when that operation is invoked; a timed
  /// fault (`timing.at`) fires on the
  /// fault clock by itself; any other waits for inject().
  template <class F>
  F& plan(std::unique_ptr<F> fault) {
    F& planned = *fault;
    fault_plan_.add(std::move(fault));
    return planned;
  }
  /// Injects a planned fault now; `site` names the worker of a gated
  /// firing for faults aimed at one. False when the fault is left out of
  /// this replay (TrialReplay): a handler that would crash the worker with
  /// it lets the firing proceed instead.
  bool inject(faults::Fault& fault, faults::FaultSite site = {});
  /// Heals a planned fault (nothing when it is not in force).
  void heal(faults::Fault& fault);
  /// Whether a planned fault has acted (never, for one left out of this replay).
  bool acted(const faults::Fault& fault) const { return fault_plan_.acted(fault); }
  /// Timed faults count from the fault clock, which starts at the run
  /// phase's first go() unless held: a scenario with a prelude (random_mix's
  /// lock holders) holds it, then starts it as its main part begins.
  void hold_fault_clock() { fault_plan_.hold_clock(); }
  void start_fault_clock();
  /// A choice the scenario drew that is not a fault (which users race, a
  /// failpoint no user can reach): kept beside the plan, compared by repro.
  void note_choice(nlohmann::json choice) { choices_.push_back(std::move(choice)); }
  /// The run did not exercise what the scenario claims (a duplicate-lookup
  /// race that never had two lookups of a user in flight): the trial is
  /// then unknown, with `why`, unless an invariant found it invalid anyway.
  void not_exercised(std::string why) { not_exercised_.push_back(std::move(why)); }
  const std::vector<std::string>& unexercised() const { return not_exercised_; }

  // ---- Workers.
  /// An operation with the next id of the trial. Throws unless the migrator
  /// supports operations of that kind.
  worker::OperationPlan operation(std::string_view kind, const std::string& user);
  /// The id the next operation() will get: a scenario keys faults to
  /// operations it is about to plan (timing.at_operation).
  std::int64_t next_operation_id() const { return next_op_; }
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
  bool worker_finished(int worker) const { return fleet_->finished(worker); }

  // ---- Failpoints.
  /// Decides gated firings of `failpoint`; an empty handler removes it (they proceed).
  void on_hit(const std::string& failpoint, HitHandler handler) {
    gate_.on_hit(failpoint, std::move(handler));
  }
  /// A happens-before pair: firings of `after` wait until `before` has fired.
  void order(const std::string& before, const std::string& after) { gate_.order(before, after); }
  /// Pumps until `condition` holds; false on timeout.
  bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout);
  /// Pumps for `duration` (faults keep being handled meanwhile).
  void sleep(std::chrono::milliseconds duration);
  /// How many gated firings of `failpoint` have been granted (or skipped).
  int fired(const std::string& failpoint) const { return gate_.fired(failpoint); }
  /// Counts `failpoint` as fired without a firing (its client finished
  /// without reaching it), so that firings ordered after it may go; the
  /// failpoint order records it as not reached.
  void skip(const std::string& failpoint) { gate_.skip(failpoint); }
  /// The firings held back by happens-before pairs right now, e.g. "2
  /// firings of lookup.after_load wait for migrate.after_commit"; "" if none.
  /// A run that cannot finish says this, since an unreachable first point
  /// holds its second for good.
  std::string held_summary() const { return gate_.held_summary(); }
  /// Whether the lock of `user` is held right now (its key exists in Redis).
  bool lock_held(const std::string& user) override;

  // ---- The application's rollout (engine/deployment.hpp).
  /// Sets the org path's rollout flag, as a deployment would while
  /// requests run, and records it (a `rollout` event of kind "flag");
  /// returns the flag's new version.
  std::int64_t set_rollout_flag(int percentage, const std::vector<std::string>& allow_list);
  /// Backs the trial database up (a copy, dropped with the trial), as
  /// before a backfill; no worker may be connected. Once per trial.
  void back_up_database();
  /// Restores the trial database from its backup, as the guide's rollback
  /// of a backfill: its sessions are ended, it is dropped and copied again.
  /// Run no workers meanwhile. `compensation` says, for the history and the
  /// report, who undoes what the restore cannot (Stripe, LiteLLM).
  void restore_database(const std::string& compensation);
  /// Applies a step of the expand/contract checklist to the live database:
  /// refuses while `refuse_while` counts rows, else tries it with a short
  /// lock_timeout, pumping between attempts, until it applies or its
  /// attempts run out; records it (a `rollout` event of kind "schema").
  /// `between_attempts(n)` runs after the n-th attempt timed out.
  SchemaStepOutcome schema_step(const SchemaStep& step,
                                const std::function<void(int)>& between_attempts = {});

  // ---- The services.
  fakes::StripeFake& stripe() { return *stripe_; }
  fakes::LitellmFake& litellm() { return *litellm_; }
  /// Whether the harness runs Redis itself (and so may stop it).
  bool redis_embedded() const override { return environment_.services.redis_embedded(); }
  /// Users the liveness phase must look up, beyond every user an operation touched.
  void affect(const std::string& user) { affected_.insert(user); }

  // ---- The controller's part.
  /// Writes the phase's event; the run phase's waits for the run's first
  /// act (go(), a fault), so that it marks when the operations may start.
  void start_phase(std::string_view phase, nlohmann::json value = nlohmann::json::object());
  /// Lets every timed fault play out its plan (still the run phase), then
  /// heals every fault in force, newest first, and waits for the run's
  /// workers, killing those past `timeout` (their operations become info).
  void heal_phase(std::chrono::milliseconds timeout);
  /// Every affected user is looked up again by a fresh worker, faults off.
  void liveness();
  history::History& history() { return history_; }
  /// Ends the history once every process has reported: the lock
  /// observer's Redis commands merged in, the events in time order.
  void finish_history();
  /// The plan entries: the stacked faults, the scenario's, then the
  /// interleaving.
  nlohmann::json fault_plan() const { return fault_plan_.entries(); }
  const nlohmann::json& choices() const { return choices_; }
  const std::vector<std::string>& failpoint_order() const { return gate_.decisions(); }
  const world::TrialDatabase& database() const { return database_; }
  /// Where a client of the trial database connects: the session pool when
  /// there is one (a kept session, not a new backend), else the database.
  services::PgUrl session_url() const {
    return environment_.session_pool != nullptr
               ? environment_.session_pool->client_url(database_.name())
               : database_.url();
  }
  /// How workers broke the worker protocol, one line each ("migrator X:
  /// worker 2 wrote a line that is not JSON"); any makes the trial unknown.
  const std::vector<std::string>& protocol_violations() const { return fleet_->violations(); }
  std::int64_t now_ns() const;

 private:
  // faults::FaultTarget: what fault objects act on.
  void record(faults::FaultRecord record) override;
  std::uint64_t add_http_fault(const std::string& service, const fakes::FaultSpec& spec) override;
  std::uint64_t remove_http_fault(const std::string& service, std::uint64_t id) override;
  void set_stripe_search_lag(std::chrono::milliseconds lag) override;
  bool redis_running() const override { return environment_.services.redis_running(); }
  void stop_redis() override;
  void start_redis() override;
  int terminate_backends(const faults::FaultSite& of) override;
  bool kill_worker(int worker) override;
  bool worker_exited(int worker) const override;
  bool stop_worker(int worker) override;
  bool continue_worker(int worker) override;
  std::chrono::milliseconds recovery_bound() const override;

  /// A rollout event (a change to the application) in the history.
  void record_rollout(const std::string& kind, nlohmann::json value);
  /// A fault event in the history, from the controller.
  void record_fault(const std::string& kind, nlohmann::json value, const std::string& user = "");
  /// The gate decided a firing: into the history, and the answer to its worker.
  void decided(const GatedHit& hit, worker::HitDecision decision);
  /// Spawns a worker with the trial's endpoints and the options' overrides.
  int spawn_worker(WorkerOptions options);
  /// Pumps until the worker has said ready; throws if it exits or breaks the
  /// protocol first, or does not answer within 20 s.
  void await_ready(int index);
  migrator::MigratorEndpoints endpoints() const;
  /// Fires the timed faults that are due, then pumps the fleet's channels
  /// until `deadline` or the next fault: a poll never sleeps past one.
  void pump(std::chrono::steady_clock::time_point deadline);

  TrialEnvironment& environment_;
  const Scenario& scenario_;
  Options options_;
  TrialSettings settings_;
  std::uint64_t seed_;
  int index_;
  std::chrono::steady_clock::time_point started_;
  world::TrialDatabase database_;
  std::unique_ptr<fakes::StripeFake> stripe_;
  std::unique_ptr<fakes::LitellmFake> litellm_;
  std::int64_t next_op_ = 0;
  history::History history_;
  faults::FaultPlan fault_plan_;
  nlohmann::json choices_ = nlohmann::json::array();
  FailpointGate gate_;
  /// After the fakes: destroyed (its workers killed) before they stop.
  std::unique_ptr<WorkerFleet> fleet_;
  /// Watches the trial's lock keys in Redis until finish_history().
  std::unique_ptr<LockObserver> lock_observer_;
  std::set<std::string> affected_;
  std::vector<std::string> not_exercised_;
  std::string phase_ = "run";
  /// The rollout flag's states so far (0: the schema's).
  std::int64_t flag_versions_ = 0;
  std::int64_t flag_version_at_backup_ = 0;
  std::optional<std::string> backup_;  ///< the backup database's name
  /// How many history events pump() has looked at for invokes.
  std::size_t events_seen_ = 0;
  /// Operation ids of the run phase that run; none: all (TrialReplay).
  std::optional<std::set<std::int64_t>> operations_kept_;
};

}  // namespace orgquake::engine
