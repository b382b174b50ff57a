#include "engine/trial.hpp"

#include <algorithm>
#include <cstdio>
#include <future>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pqxx/pqxx>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "engine/deployment.hpp"
#include "engine/interleaving.hpp"
#include "engine/scenario.hpp"
#include "fakes/litellm_fake.hpp"
#include "fakes/stripe_fake.hpp"
#include "services/redis_connection.hpp"
#include "worker/worker_protocol.hpp"
#include "world/load_fakes.hpp"

namespace orgquake::engine {

using worker::echo_failpoint;
using worker::HitDecision;
using worker::OperationPlan;
using worker::WorkerPlan;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

TrialSettings read_settings(const Options& options) {
  OptionReader reading(options);
  return TrialSettings::read(reading);
}

// How many sessions the trial's clients will want at once, as far as its
// options tell: `workers` app servers of `clients` clients each (one app
// server when the scenario has no `workers`); none when it has no `clients`.
std::size_t option_count(const Options& options, const char* name) {
  const auto it = options.json().find(name);
  if (it == options.json().end() || !it->is_number_integer()) return 0;
  return static_cast<std::size_t>(std::max<long long>(it->get<long long>(), 0));
}

std::size_t sessions_wanted(const Options& options) {
  return std::max<std::size_t>(option_count(options, "workers"), 1) *
         option_count(options, "clients");
}

}  // namespace

Trial::Trial(TrialEnvironment& environment, const Scenario& scenario, Options options,
             std::uint64_t seed, int index, std::vector<std::unique_ptr<faults::Fault>> stacked,
             std::optional<TrialReplay> replay)
    : environment_(environment),
      scenario_(scenario),
      options_(std::move(options)),
      settings_(read_settings(options_)),
      seed_(seed),
      index_(index),
      started_(Clock::now()),
      database_(
          environment.session_pool != nullptr
              ? environment.database_template.checkout(
                    {[&](const std::string& name) { environment.session_pool->close_idle(name); },
                     [&](const std::string& name) {
                       return environment.session_pool->client_url(name);
                     }})
              : environment.database_template.clone()),
      gate_([this](const GatedHit& hit, HitDecision decision) { decided(hit, decision); }) {
  // The pool's sessions are opened while the fakes start, so that a lane's
  // first trial of many clients does not spend its run phase forking
  // backends (the race needs its clients ready together).
  std::future<void> warming;
  if (environment_.session_pool != nullptr) {
    warming = std::async(std::launch::async, [this] {
      environment_.session_pool->warm(database_.name(), sessions_wanted(options_));
    });
  }
  if (replay && replay->faults) {
    fault_plan_.act_only({replay->faults->begin(), replay->faults->end()});
  }
  if (replay && replay->operations) {
    operations_kept_.emplace(replay->operations->begin(), replay->operations->end());
  }
  // A previous trial whose heal could not restart Redis left it down.
  if (!environment_.services.redis_running()) environment_.services.start_redis();
  stripe_ = std::make_unique<fakes::StripeFake>(fakes::ServerOptions{}, fakes::StripeOptions{},
                                                rng("stripe").next());
  litellm_ = std::make_unique<fakes::LitellmFake>(fakes::ServerOptions{}, fakes::LitellmOptions{},
                                                  rng("litellm").next());
  stripe_->start();
  litellm_->start();
  world::load_world(*stripe_, environment_.world);
  world::load_world(*litellm_, environment_.world);
  // Before any worker: every lock command of the trial is seen.
  lock_observer_ = std::make_unique<LockObserver>(environment_.services.redis_url(),
                                                  endpoints().lock.key_prefix, started_);
  fleet_ = std::make_unique<WorkerFleet>(
      WorkerFleet::Setup{environment_.migrator, environment_.log_dir, index_, started_,
                         environment_.spares},
      history_, gate_, [this](const std::string& kind, nlohmann::json value) {
        record_fault(kind, std::move(value));
      });
  // As many spare app servers as the options ask for, waiting for their
  // plans (started after the previous trial's run phase, or now).
  if (environment_.spares != nullptr) {
    environment_.spares->keep(static_cast<int>(option_count(options_, "workers")));
  }
  if (warming.valid()) warming.get();
  const auto pairs = parse_interleaving(settings_.interleaving);
  if (!pairs.empty()) {
    nlohmann::json planned = nlohmann::json::array();
    for (const auto& pair : pairs) {
      require_failpoint(parse_step(pair.before).failpoint);
      require_failpoint(parse_step(pair.after).failpoint);
      planned.push_back({pair.before, pair.after});
    }
    gate_.interleave(pairs);
    // The gate's part of the plan: an ordering, not a fault object.
    fault_plan_.add_entry({{"kind", "interleaving"}, {"happens_before", std::move(planned)}});
  }
  for (auto& fault : stacked) fault_plan_.add(std::move(fault));
  // Faults keyed to an operation's firing act while its worker waits there.
  gate_.observe([this](const HitInfo& hit, int nth) -> std::string {
    if (phase_ != history::phase_run) return "";
    const auto acted = fault_plan_.failpoint_reached(hit.op, hit.failpoint, nth, *this,
                                                     {hit.worker, hit.client}, Clock::now());
    std::vector<std::string> words;
    for (int entry : acted) {
      words.push_back(fmt::format(
          "fault {} {}", entry,
          fault_plan_.entries()[static_cast<std::size_t>(entry)].at("kind").get<std::string>()));
    }
    return fmt::format("{}", fmt::join(words, ", "));
  });
}

Trial::~Trial() {
  fleet_.reset();  // the workers first, while the fakes they talk to still answer
  if (environment_.spares != nullptr) {
    try {
      environment_.spares->refill();  // for the one the liveness phase took
    } catch (const std::exception& e) {
      std::fprintf(stderr, "orgquake: could not start a spare worker: %s\n", e.what());
    }
  }
  lock_observer_.reset();
  if (litellm_) litellm_->stop();
  if (stripe_) stripe_->stop();
  if (backup_) {
    try {
      drop_database(environment_.services.admin_url(), *backup_);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "orgquake: could not drop the backup database %s: %s\n",
                   backup_->c_str(), e.what());
    }
  }
}

std::int64_t Trial::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count();
}

std::chrono::milliseconds Trial::lock_ttl() const {
  return settings_.lock_ttl;
}

std::vector<std::string> Trial::choose_users(int count, std::string_view label) const {
  const auto& users = environment_.world.users;
  std::vector<std::size_t> order(users.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  Rng draw = rng(label);
  for (std::size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[draw.below(i)]);
  // Edge cases first, so that a trial of a few users still meets them.
  std::stable_partition(order.begin(), order.end(), [&](std::size_t i) {
    return users[i].edge_cases != world::EdgeCase::none;
  });
  std::vector<std::string> chosen;
  for (std::size_t i = 0; i < order.size() && chosen.size() < static_cast<std::size_t>(count);
       ++i) {
    chosen.push_back(users[order[i]].user_id);
  }
  return chosen;
}

bool Trial::inject(faults::Fault& fault, faults::FaultSite site) {
  return fault_plan_.inject(fault, *this, site, Clock::now());
}

void Trial::heal(faults::Fault& fault) {
  fault_plan_.heal(fault, *this);
}

void Trial::start_fault_clock() {
  fault_plan_.start_clock(Clock::now());
}

OperationPlan Trial::operation(std::string_view kind, const std::string& user) {
  if (!migrator().supports(kind)) {
    throw std::runtime_error(fmt::format(
        "migrator {} does not support operations of kind {}, which {} needs (it supports: {})",
        environment_.migrator.declaration.name, kind, scenario_.name(),
        fmt::join(migrator().operations, ", ")));
  }
  return {next_op_++, std::string(kind), user};
}

void Trial::require_failpoint(const std::string& failpoint) const {
  if (failpoint == echo_failpoint || migrator().declares(failpoint)) return;
  throw std::runtime_error(
      fmt::format("migrator {} does not declare the failpoint {}, which {} needs",
                  environment_.migrator.declaration.name, failpoint, scenario_.name()));
}

migrator::MigratorEndpoints Trial::endpoints() const {
  migrator::MigratorEndpoints e;
  e.pg_conninfo = session_url().full();
  const auto& redis = environment_.services.redis_url();
  e.redis = {redis.host, redis.port, redis.password, redis.database, {}};
  e.stripe_port = stripe_->port();
  e.stripe_secret_key = stripe_->secret_key();
  e.litellm_port = litellm_->port();
  e.litellm_master_key = litellm_->master_key();
  e.lock.ttl = lock_ttl();
  e.lock.max_wait = settings_.lock_max_wait;
  // Keys of each trial apart: a crashed holder's lock of one trial must not
  // block the next, even on an external Redis.
  const auto prefix = fmt::format("orgquake:{}:t{}:", environment_.run_tag, index_);
  e.lock.key_prefix = prefix + "lock:user:";
  e.lock.fence_prefix = prefix + "fence:user:";
  return e;
}

int Trial::spawn_worker(WorkerOptions options) {
  const int index = fleet_->next_index();
  WorkerPlan plan;
  plan.worker = index;
  plan.seed = rng(fmt::format("worker/{}", index)).next();
  plan.migrator = environment_.migrator.declaration.name;
  plan.phase = phase_;
  plan.trial_start_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(started_.time_since_epoch()).count();
  plan.endpoints = endpoints();
  if (options.lock_max_wait) plan.endpoints.lock.max_wait = *options.lock_max_wait;
  if (options.http_request_timeout) {
    plan.endpoints.http_request_timeout = *options.http_request_timeout;
  }
  plan.strategy = settings_.strategy;
  plan.fast_path = settings_.fast_path;
  plan.failpoints = std::move(options.failpoints);
  for (const auto& failpoint : options.gated) require_failpoint(failpoint);
  // Every worker of the run phase gates the interleaving's failpoints, so
  // that the gate sees each firing and can hold it for its turn.
  std::set<std::string> gated(options.gated.begin(), options.gated.end());
  gated.insert(gate_.interleaved().begin(), gate_.interleaved().end());
  // And the failpoints that faults keyed to its operations wait at.
  for (const auto& client : options.clients) {
    for (const auto& op : client.ops) {
      for (const auto& failpoint : fault_plan_.failpoints_awaited_by(op.op)) {
        require_failpoint(failpoint);
        gated.insert(failpoint);
      }
    }
  }
  plan.gated_failpoints.assign(gated.begin(), gated.end());
  plan.clients = std::move(options.clients);
  if (operations_kept_ && phase_ == history::phase_run) {
    // A reduced replay: the operations left out are never sent. Their
    // clients stay (empty), so that clients keep their numbers; a worker
    // left with nothing to run is not started at all (a Python worker's
    // start-up is most of a small replay's time).
    bool planned_any = false, kept_any = false;
    for (auto& client : plan.clients) {
      planned_any = planned_any || !client.ops.empty();
      std::erase_if(client.ops,
                    [&](const OperationPlan& op) { return operations_kept_->count(op.op) == 0; });
      kept_any = kept_any || !client.ops.empty();
    }
    if (planned_any && !kept_any) return fleet_->spawn_idle();
  }
  return fleet_->spawn(std::move(plan), {options.gated.begin(), options.gated.end()});
}

void Trial::await_ready(int index) {
  constexpr auto patience = milliseconds(20'000);
  if (wait_until([&] { return fleet_->ready(index) || fleet_->exited(index); }, patience) &&
      fleet_->ready(index)) {
    return;
  }
  const std::string why = fleet_->not_ready(index, patience);
  throw EnvironmentError(fmt::format(
      "migrator {}: worker {} of trial {} did not get ready: {}; its log is {}",
      environment_.migrator.declaration.name, index, index_, why, fleet_->log_of(index).string()));
}

int Trial::start_worker(WorkerOptions options) {
  const int index = spawn_worker(std::move(options));
  await_ready(index);
  return index;
}

std::vector<int> Trial::start_workers(std::vector<WorkerOptions> fleet) {
  // All spawned before any is awaited: each process's start-up (an
  // interpreter importing its libraries, connections) overlaps the others'.
  std::vector<int> started;
  for (auto& options : fleet) started.push_back(spawn_worker(std::move(options)));
  for (int index : started) await_ready(index);
  return started;
}

void Trial::go(const std::vector<int>& workers) {
  history_.release(now_ns());
  fleet_->go(workers);
  if (phase_ == history::phase_run && !fault_plan_.clock_held()) start_fault_clock();
}

bool Trial::wait_done(const std::vector<int>& workers, milliseconds timeout) {
  return wait_until(
      [&] {
        return std::all_of(workers.begin(), workers.end(),
                           [&](int w) { return worker_finished(w); });
      },
      timeout);
}

bool Trial::wait_all_done(milliseconds timeout) {
  return wait_until([&] { return fleet_->all_finished(); }, timeout);
}

void Trial::pump(Clock::time_point deadline) {
  // Timed faults act between reads: a poll never sleeps past one that is due.
  if (phase_ == history::phase_run) {
    if (const auto next_fault = fault_plan_.fire_due(*this, Clock::now())) {
      deadline = std::min(deadline, *next_fault);
    }
  }
  fleet_->pump(deadline);
  // Faults keyed to an operation act once its invoke is seen; an
  // operation's end frees what waits for its steps.
  const auto& events = history_.events();
  for (; events_seen_ < events.size(); ++events_seen_) {
    const auto& e = events[events_seen_];
    if (phase_ != history::phase_run) continue;
    if (e.type == history::EventType::invoke) {
      fault_plan_.operation_invoked(e.op, *this, Clock::now());
    } else if (e.type == history::EventType::ok || e.type == history::EventType::fail ||
               e.type == history::EventType::info) {
      // A step of it that an interleaving waits for will never come now.
      gate_.operation_ended(e.op);
    }
  }
}

bool Trial::wait_until(const std::function<bool()>& condition, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!condition()) {
    throw_if_interrupted();
    if (Clock::now() >= deadline) return false;
    pump(std::min(deadline, Clock::now() + milliseconds(50)));
  }
  return true;
}

void Trial::sleep(milliseconds duration) {
  const auto deadline = Clock::now() + duration;
  while (Clock::now() < deadline) {
    throw_if_interrupted();
    pump(deadline);
  }
}

bool Trial::lock_held(const std::string& user) {
  auto redis =
      services::RedisConnection::connect(environment_.services.redis_url(), milliseconds(2000));
  return redis.command_integer({"EXISTS", endpoints().lock.key_prefix + user}) == 1;
}

void Trial::decided(const GatedHit& hit, HitDecision decision) {
  history::Event event;
  event.type = history::EventType::failpoint;
  event.time_ns = hit.info.time_ns;
  event.worker = hit.info.worker;
  event.client = hit.info.client;
  event.op = hit.info.op;
  event.user = hit.info.user;
  event.kind = hit.info.failpoint;
  event.value = {{"action", "gated"}, {"decision", name_of(decision)}};
  history_.add(std::move(event));
  fleet_->grant(hit.info.worker, hit.id, decision);
}

void Trial::record_fault(const std::string& kind, nlohmann::json value, const std::string& user) {
  history::Event event;
  event.type = history::EventType::fault;
  event.time_ns = now_ns();
  event.kind = kind;
  event.user = user;
  event.phase = phase_;
  event.value = std::move(value);
  history_.add(std::move(event));
}

void Trial::record(faults::FaultRecord record) {
  record_fault(record.kind, std::move(record.value), record.user);
}

bool Trial::worker_exited(int index) const {
  return fleet_->exited(index);
}

bool Trial::kill_worker(int index) {
  return fleet_->kill(index);
}

bool Trial::stop_worker(int index) {
  return fleet_->stop(index);
}

bool Trial::continue_worker(int index) {
  return fleet_->resume(index);
}

std::chrono::milliseconds Trial::recovery_bound() const {
  return settings_.recovery_bound;
}

std::uint64_t Trial::add_http_fault(const std::string& service, const fakes::FaultSpec& spec) {
  if (service == "stripe") return stripe_->add_fault(spec);
  if (service == "litellm") return litellm_->add_fault(spec);
  throw std::logic_error("no fake named " + service);
}

std::uint64_t Trial::remove_http_fault(const std::string& service, std::uint64_t id) {
  const auto fired = [id](const std::vector<fakes::InstalledFault>& installed) {
    for (const auto& fault : installed) {
      if (fault.id == id) return fault.fired;
    }
    return std::uint64_t{0};
  };
  std::uint64_t n = 0;
  if (service == "stripe") {
    n = fired(stripe_->faults());
    stripe_->remove_fault(id);
  }
  if (service == "litellm") {
    n = fired(litellm_->faults());
    litellm_->remove_fault(id);
  }
  return n;
}

void Trial::set_stripe_search_lag(milliseconds lag) {
  stripe_->set_search_lag_ms(lag.count());
}

void Trial::stop_redis() {
  environment_.services.stop_redis();
  if (lock_observer_) lock_observer_->redis_stopped();
}

void Trial::start_redis() {
  if (lock_observer_) lock_observer_->redis_about_to_start();
  environment_.services.start_redis();
  // The lock commands Redis runs before the observer is back go unseen:
  // keep that gap to the few milliseconds of a reconnect.
  if (lock_observer_) lock_observer_->await_stream(milliseconds(2000));
}

void Trial::finish_history() {
  if (lock_observer_) {
    for (auto& event : lock_observer_->finish()) history_.add(std::move(event));
    lock_observer_.reset();
  }
  history_.finish();
}

int Trial::terminate_backends(const faults::FaultSite& of) {
  pqxx::connection admin(environment_.services.admin_url().conninfo());
  pqxx::nontransaction tx(admin);
  constexpr const char* kill =
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend' ";
  if (of.worker >= 0 && of.client >= 0) {
    // The client's own connections, by the name it gives them (the name of
    // its Redis connection), whatever they are doing. A migrator that names
    // none loses every backend inside a transaction instead.
    const int own =
        tx.exec_params1(std::string(kill) + "AND application_name = $2", database_.name(),
                        worker::connection_name(of.worker, of.client))[0]
            .as<int>();
    if (own > 0) return own;
  }
  return tx.exec_params1(std::string(kill) + "AND xact_start IS NOT NULL", database_.name())[0]
      .as<int>();
}

std::int64_t Trial::set_rollout_flag(int percentage, const std::vector<std::string>& allow_list) {
  const auto version = ++flag_versions_;
  engine::set_rollout_flag(database_.url(), version, percentage, allow_list);
  record_rollout("flag",
                 {{"percentage", percentage}, {"allow_list", allow_list}, {"version", version}});
  return version;
}

void Trial::back_up_database() {
  if (backup_) throw std::logic_error("the trial database was backed up already");
  const std::string backup = database_.name() + "_backup";
  // A copy needs the database to itself: the pool's sessions go first.
  if (environment_.session_pool) environment_.session_pool->close_idle(database_.name());
  engine::back_up_database(environment_.services.admin_url(), database_.name(), backup);
  backup_ = backup;
  flag_version_at_backup_ = flag_versions_;
  record_rollout("backup", {{"database", backup}});
}

void Trial::restore_database(const std::string& compensation) {
  if (!backup_) throw std::logic_error("the trial database has no backup to restore");
  if (environment_.session_pool) environment_.session_pool->close_idle(database_.name());
  engine::restore_database(environment_.services.admin_url(), database_.name(), *backup_);
  // The backup holds the flag as it was: the schema's state, version 0,
  // unless the scenario set it before the backup.
  record_rollout("restore", {{"from", *backup_},
                             {"flag_version", flag_version_at_backup_},
                             {"compensation", compensation}});
}

SchemaStepOutcome Trial::schema_step(const SchemaStep& step,
                                     const std::function<void(int)>& between_attempts) {
  SchemaStepOutcome outcome;
  nlohmann::json value = {{"step", step.name},
                          {"started_ns", now_ns()},
                          {"statements", step.statements},
                          {"lock_timeout_ms", step.lock_timeout.count()}};
  if (!step.refuse_while.empty()) {
    outcome.blocking_rows = count_rows(database_.url(), step.refuse_while);
    if (outcome.blocking_rows > 0) {
      outcome.refused = true;
      value["refused"] = true;
      value["blocking_rows"] = outcome.blocking_rows;
      record_rollout("schema", std::move(value));
      return outcome;
    }
  }
  while (outcome.attempts < step.max_attempts) {
    ++outcome.attempts;
    const auto attempt = attempt_schema_step(database_.url(), step.statements, step.lock_timeout,
                                             step.in_transaction);
    if (attempt.done) {
      outcome.applied = true;
      break;
    }
    ++outcome.lock_timeouts;
    if (between_attempts) between_attempts(outcome.lock_timeouts);
    sleep(step.retry_pause);  // requests run meanwhile
  }
  value["applied"] = outcome.applied;
  value["attempts"] = outcome.attempts;
  value["lock_timeouts"] = outcome.lock_timeouts;
  record_rollout("schema", std::move(value));
  return outcome;
}

void Trial::record_rollout(const std::string& kind, nlohmann::json value) {
  history::Event event;
  event.type = history::EventType::rollout;
  event.time_ns = now_ns();
  event.kind = kind;
  event.value = std::move(value);
  history_.add(std::move(event));
}

void Trial::start_phase(std::string_view phase, nlohmann::json value) {
  phase_ = std::string(phase);
  history::Event event;
  event.type = history::EventType::phase;
  event.time_ns = now_ns();
  event.kind = phase_;
  event.value = std::move(value);
  if (phase == history::phase_run) {
    // The run begins when it first acts (a go, a fault): the scenario's app
    // servers starting and connecting before that are the trial's set-up,
    // as a deployment's are before it takes traffic, and the race starts
    // with every client ready.
    history_.hold(std::move(event));
  } else {
    history_.add(std::move(event));
  }
}

void Trial::heal_phase(milliseconds timeout) {
  // Every timed fault plays out its plan, even when the scenario's workers
  // finished first: what is planned is what runs.
  start_fault_clock();
  const auto deadline = Clock::now() + timeout;
  while (fault_plan_.timed_pending()) {
    throw_if_interrupted();
    if (Clock::now() >= deadline) break;  // heal below undoes what did act
    pump(std::min(deadline, Clock::now() + milliseconds(50)));
  }
  start_phase(history::phase_heal);
  fault_plan_.heal_all(*this);
  // A Redis that a failed heal left down would fail every lookup from here.
  if (!environment_.services.redis_running()) {
    start_redis();
    record_fault("redis_start", {{"reason", "down at the heal phase"}});
  }
  const int workers = static_cast<int>(fleet_->size());
  for (int w = 0; w < workers; ++w) {
    if (fleet_->resume(w)) {
      record_fault("resume", {{"worker", w}, {"reason", "still stopped at the heal phase"}});
    }
  }
  // The next trial's app servers start while this one is judged.
  if (environment_.spares != nullptr) environment_.spares->refill();
  // Nothing is held back any more: every waiting firing proceeds.
  gate_.open();
  if (const int idle = fleet_->dismiss_idle(); idle > 0) {
    record_fault("dismiss", {{"workers", idle}, {"reason", "started, never told to go"}});
  }
  if (!wait_all_done(timeout)) {
    for (int w = 0; w < workers; ++w) {
      if (fleet_->finished(w)) continue;
      record_fault("abandon",
                   {{"worker", w}, {"reason", "still running when the run phase timed out"}});
      fleet_->kill(w);
    }
  }
}

void Trial::liveness() {
  std::set<std::string> users = affected_;
  // A user whose last operation was a request under the rollout flag comes
  // back the way the application serves them (a serve: the flag still
  // decides the path, so that liveness migrates nobody the rollout left
  // out, or rolled back); any other, by the verified lookup.
  std::map<std::string, std::string> last_kind;
  for (const auto& user : affected_) last_kind[user] = history::op_lookup;
  for (const auto& event : history_.events()) {
    if (event.type != history::EventType::invoke || event.user.empty()) continue;
    users.insert(event.user);
    last_kind[event.user] = event.kind;
  }
  std::set<std::string> looked_up;
  for (const auto& [user, kind] : last_kind) {
    if (kind != history::op_serve) looked_up.insert(user);
  }
  const auto bound = settings_.liveness_bound;
  start_phase(history::phase_liveness,
              {{"users", std::vector<std::string>(users.begin(), users.end())},
               {"bound_ms", bound.count()}});
  if (users.empty()) return;
  WorkerOptions live;
  const std::size_t clients = std::min<std::size_t>(8, users.size());
  live.clients.resize(clients);
  std::size_t i = 0;
  for (const auto& user : users) {
    live.clients[i++ % clients].ops.push_back(
        operation(looked_up.contains(user) ? history::op_lookup : history::op_serve, user));
  }
  // A dead holder's lock may still stand: wait it out, within the bound.
  live.lock_max_wait =
      std::min(bound, settings_.lock_ttl + settings_.recovery_bound + milliseconds(1000));
  const int worker = run_worker(std::move(live));
  const auto rounds = static_cast<long>((users.size() + clients - 1) / clients);
  if (!wait_done({worker}, bound * rounds + milliseconds(10'000))) {
    record_fault("abandon", {{"worker", worker}, {"reason", "liveness lookups did not finish"}});
    fleet_->kill(worker);
  }
}

}  // namespace orgquake::engine
