#include "engine/trial.hpp"

#include <algorithm>
#include <csignal>
#include <poll.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <pqxx/pqxx>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "engine/interleaving.hpp"
#include "engine/scenario.hpp"
#include "services/redis_connection.hpp"
#include "worker/channel.hpp"
#include "world/load_fakes.hpp"

namespace orgquake::engine {

using worker::Channel;
using worker::channel_fd_variable;
using worker::echo_failpoint;
using worker::find_error_name;
using worker::HitDecision;
using worker::max_message_bytes;
using worker::MigratorDescription;
using worker::one_line;
using worker::OperationPlan;
using worker::protocol_version;
using worker::ProtocolViolation;
using worker::WorkerPlan;
namespace message = worker::message;

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct Trial::Worker {
  int index = 0;
  std::string phase;
  std::optional<services::ChildProcess> process;
  std::unique_ptr<Channel> channel;
  bool ready = false;
  bool done = false;
  bool exited = false;
  bool paused = false;
  /// Being killed by the controller: what it still sends counts, but its
  /// queued firings are not decided (it never gets the answer).
  bool dying = false;
  /// Failpoints the scenario gated in this worker: only their firings go to
  /// the scenario's handlers (the interleaving's only wait their turn).
  std::set<std::string> scenario_gated;
  std::string error;  ///< what the worker reported when it could not run its plan
  /// What it broke of the worker protocol (it was killed for it); "" if nothing.
  std::string violation;
  /// What it declared in its `ready`.
  std::optional<MigratorDescription> declared;
  /// Every failpoint whose firings must come as hits (the scenario's and the
  /// interleaving's): one reported as a plain event would slip past the gate.
  std::set<std::string> gated;
  /// The operations of its plan by id, with the client that runs each; an
  /// id is invoked once, by that client, for that user.
  std::map<std::int64_t, std::pair<int, OperationPlan>> planned;
  std::set<std::int64_t> invoked;
  /// Invoked operations without a completion yet: they become `info` if the
  /// worker dies.
  std::map<std::int64_t, history::Event> open_ops;
  std::filesystem::path log;
};

Trial::Trial(TrialEnvironment& environment, const Scenario& scenario, Options options,
             std::uint64_t seed, int index, std::vector<std::unique_ptr<faults::Fault>> stacked)
    : environment_(environment),
      scenario_(scenario),
      options_(std::move(options)),
      seed_(seed),
      index_(index),
      started_(Clock::now()),
      database_(environment.database_template.clone()) {
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
  const auto pairs = parse_interleaving(options_.string("interleaving"));
  if (!pairs.empty()) {
    nlohmann::json planned = nlohmann::json::array();
    for (const auto& pair : pairs) {
      require_failpoint(pair.before);
      require_failpoint(pair.after);
      order(pair.before, pair.after);
      interleaved_.insert(pair.before);
      interleaved_.insert(pair.after);
      planned.push_back({pair.before, pair.after});
    }
    // The gate's part of the plan: an ordering, not a fault object.
    fault_plan_.push_back({{"kind", "interleaving"}, {"happens_before", std::move(planned)}});
  }
  for (auto& fault : stacked) plan_fault(std::move(fault));
}

Trial::~Trial() {
  for (auto& worker : workers_) {
    if (worker->process && !worker->exited) worker->process->stop(SIGKILL, milliseconds(1000));
  }
  if (litellm_) litellm_->stop();
  if (stripe_) stripe_->stop();
}

std::int64_t Trial::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - started_).count();
}

std::chrono::milliseconds Trial::lock_ttl() const {
  return milliseconds(options_.integer("lock_ttl_ms"));
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

void Trial::plan_fault(std::unique_ptr<faults::Fault> fault) {
  if (fault->timing.at && fault->needs_site()) {
    throw std::logic_error(std::string(fault->kind()) + " acts on a worker and cannot be timed");
  }
  fault_plan_.push_back(fault->plan());
  PlannedFault planned;
  planned.index = static_cast<int>(faults_.size());
  planned.fault = std::move(fault);
  faults_.push_back(std::move(planned));
}

Trial::PlannedFault& Trial::planned(faults::Fault& fault) {
  for (auto& planned : faults_) {
    if (planned.fault.get() == &fault) return planned;
  }
  throw std::logic_error(std::string(fault.kind()) +
                         " was not planned: plan a fault before it acts");
}

void Trial::inject(faults::Fault& fault, faults::FaultSite site) {
  PlannedFault& p = planned(fault);
  if (p.injected) {
    throw std::logic_error(fmt::format("fault {} ({}) injected twice", p.index, fault.kind()));
  }
  p.injected = true;
  p.injected_at = Clock::now();
  fault.inject(*this, site);
  if (!fault.lasting()) p.healed = true;
}

void Trial::heal(faults::Fault& fault) {
  PlannedFault& p = planned(fault);
  if (!p.injected || p.healed) return;
  p.healed = true;
  fault.heal(*this);
}

void Trial::start_fault_clock() {
  if (!fault_clock_) fault_clock_ = Clock::now();
}

std::optional<Clock::time_point> Trial::fire_due_faults() {
  if (!fault_clock_ || phase_ != history::phase_run) return std::nullopt;
  std::optional<Clock::time_point> next;
  const auto soonest = [&](Clock::time_point at) { next = next ? std::min(*next, at) : at; };
  // In plan order, so that two faults due at once act in a replayable order.
  for (auto& p : faults_) {
    const auto& timing = p.fault->timing;
    if (!timing.at) continue;
    if (!p.injected) {
      const auto due = *fault_clock_ + *timing.at;
      if (Clock::now() < due) {
        soonest(due);
        continue;
      }
      inject(*p.fault);
    }
    if (!p.healed && timing.lasting) {
      const auto due = p.injected_at + *timing.lasting;
      if (Clock::now() < due) {
        soonest(due);
        continue;
      }
      heal(*p.fault);
    }
  }
  return next;
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
  e.pg_conninfo = database_.url().full();
  const auto& redis = environment_.services.redis_url();
  e.redis = {redis.host, redis.port, redis.password, redis.database};
  e.stripe_port = stripe_->port();
  e.stripe_secret_key = stripe_->secret_key();
  e.litellm_port = litellm_->port();
  e.litellm_master_key = litellm_->master_key();
  e.lock.ttl = lock_ttl();
  e.lock.max_wait = milliseconds(options_.integer("lock_max_wait_ms"));
  // Keys of each trial apart: a crashed holder's lock of one trial must not
  // block the next, even on an external Redis.
  const auto prefix = fmt::format("orgquake:{}:t{}:", environment_.run_tag, index_);
  e.lock.key_prefix = prefix + "lock:user:";
  e.lock.fence_prefix = prefix + "fence:user:";
  return e;
}

Trial::Worker& Trial::worker(int index) {
  if (index < 0 || static_cast<std::size_t>(index) >= workers_.size()) {
    throw std::logic_error(fmt::format("no worker {}", index));
  }
  return *workers_[static_cast<std::size_t>(index)];
}

int Trial::spawn_worker(WorkerOptions options) {
  const int index = static_cast<int>(workers_.size());
  auto state = std::make_unique<Worker>();
  state->index = index;
  state->phase = phase_;
  state->log = environment_.log_dir / fmt::format("trial-{}-worker-{}.log", index_, index);

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
  plan.strategy = options_.string("strategy");
  plan.fast_path = options_.boolean("fast_path");
  plan.failpoints = std::move(options.failpoints);
  for (const auto& failpoint : options.gated) require_failpoint(failpoint);
  state->scenario_gated.insert(options.gated.begin(), options.gated.end());
  // Every worker of the run phase gates the interleaving's failpoints, so
  // that the controller sees each firing and can hold it for its turn.
  std::set<std::string> gated(options.gated.begin(), options.gated.end());
  gated.insert(interleaved_.begin(), interleaved_.end());
  plan.gated_failpoints.assign(gated.begin(), gated.end());
  state->gated = std::move(gated);
  plan.clients = std::move(options.clients);
  for (std::size_t c = 0; c < plan.clients.size(); ++c) {
    for (const auto& op : plan.clients[c].ops) {
      state->planned.emplace(op.op, std::pair{static_cast<int>(c), op});
    }
  }

  const auto plan_message = plan.to_json();
  const auto plan_bytes = plan_message.dump().size();
  if (plan_bytes > max_message_bytes) {
    throw std::runtime_error(fmt::format(
        "the plan of worker {} is {} bytes, more than the protocol's 1 MiB a message; give "
        "the trial fewer operations per worker",
        index, plan_bytes));
  }
  auto [mine, theirs] = Channel::socket_pair();
  state->channel = std::make_unique<Channel>(mine);
  services::ChildSpec spec;
  const WorkerCommand& command = environment_.migrator.command;
  spec.program = command.program;
  spec.args = command.args;
  spec.working_directory = command.working_directory;
  spec.environment = command.environment;
  spec.environment[channel_fd_variable] = "3";
  spec.environment["ORGQUAKE_PROTOCOL"] = std::to_string(protocol_version);
  spec.log_file = state->log;
  spec.channel_fd = theirs;
  try {
    state->process.emplace(services::ChildProcess::spawn(spec));
  } catch (...) {
    ::close(theirs);
    throw;
  }
  ::close(theirs);
  workers_.push_back(std::move(state));
  send(*workers_.back(), plan_message);
  return index;
}

void Trial::await_ready(int index) {
  Worker& w = worker(index);
  if (!wait_until([&] { return w.ready || w.exited; }, milliseconds(20'000)) || !w.ready) {
    if (!w.exited) violation(w, "did not send ready within 20 s");
    throw EnvironmentError(
        fmt::format("migrator {}: worker {} of trial {} did not get ready: {}; its log is {}",
                    environment_.migrator.declaration.name, index, index_,
                    !w.violation.empty() ? w.violation
                    : !w.error.empty()   ? w.error
                                         : "it " + w.process->describe_exit() + " before ready",
                    w.log.string()));
  }
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
  for (int index : workers) send(worker(index), {{"t", message::go}});
  if (phase_ == history::phase_run && !fault_clock_held_) start_fault_clock();
}

bool Trial::worker_finished(int index) const {
  const auto& w = *workers_.at(static_cast<std::size_t>(index));
  return w.exited || w.done;
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
  return wait_until(
      [&] {
        return std::all_of(workers_.begin(), workers_.end(),
                           [](const auto& w) { return w->exited || w->done; });
      },
      timeout);
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

void Trial::pump(Clock::time_point deadline) {
  // Timed faults act between reads: a poll never sleeps past one that is due.
  if (const auto next_fault = fire_due_faults()) deadline = std::min(deadline, *next_fault);
  std::vector<pollfd> fds;
  std::vector<Worker*> owners;
  for (auto& w : workers_) {
    if (w->exited || w->channel->peer_closed()) continue;
    fds.push_back({w->channel->fd(), POLLIN, 0});
    owners.push_back(w.get());
  }
  const auto wait = std::chrono::ceil<milliseconds>(deadline - Clock::now()).count();
  if (fds.empty()) {
    if (wait > 0) std::this_thread::sleep_until(deadline);
    return;
  }
  const int ready = ::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(0, wait)));
  if (ready <= 0) return;
  for (std::size_t i = 0; i < fds.size(); ++i) {
    if (fds[i].revents == 0) continue;
    Worker& w = *owners[i];
    const bool open = w.channel->read_available();
    drain(w);
    if (!open) handle_exit(w);
  }
}

void Trial::drain(Worker& w) {
  while (!w.exited) {
    std::optional<nlohmann::json> message;
    try {
      message = w.channel->next();
    } catch (const std::runtime_error& e) {  // the channel's framing
      violation(w, fmt::format("wrote {}", e.what()));
      return;
    }
    if (!message) return;
    // What a worker sends is checked here; what a scenario's hit handler
    // throws is the scenario's and goes on up.
    try {
      handle_message(w, *message);
    } catch (const ProtocolViolation& e) {
      violation(w, e.what());
      return;
    } catch (const nlohmann::json::exception& e) {
      violation(w, fmt::format("sent a message of the wrong shape: {}", e.what()));
      return;
    } catch (const std::invalid_argument& e) {  // history::Event::from_json
      violation(w, fmt::format("sent an event of the wrong shape: {}", e.what()));
      return;
    }
  }
}

void Trial::handle_message(Worker& w, const nlohmann::json& message) {
  if (!message.is_object() || !message.contains("t") || !message.at("t").is_string()) {
    throw ProtocolViolation(
        fmt::format("sent a message without a type: {}", one_line(message.dump())));
  }
  const auto type = message.at("t").get<std::string>();
  if (type == message::error) {
    const auto text = message.find("message");
    w.error = one_line(text != message.end() && text->is_string() ? text->get<std::string>()
                                                                  : std::string("(no message)"));
    // The worker cannot go on: the trial is undecided, with its words.
    throw ProtocolViolation("reported an error: " + w.error);
  }
  if (type == message::ready) {
    if (w.declared) throw ProtocolViolation("sent ready twice");
    w.declared = MigratorDescription::from_ready(message);
    w.ready = true;
    return;
  }
  if (!w.declared) throw ProtocolViolation(fmt::format("sent {} before ready", type));
  if (type == message::event) {
    handle_event(w, message);
  } else if (type == message::hit) {
    auto event = history::Event::from_json(message.at("event"));
    if (event.type != history::EventType::failpoint) {
      throw ProtocolViolation(fmt::format("sent a hit whose event is a {}, not a failpoint",
                                          history::name_of(event.type)));
    }
    if (event.kind != echo_failpoint && !w.declared->declares(event.kind)) {
      throw ProtocolViolation(
          fmt::format("reported the failpoint {}, which it did not declare", event.kind));
    }
    const auto id = message.at("id").get<std::int64_t>();
    if (w.dying) return;
    PendingHit hit{w.index, id,
                   HitInfo{w.index, event.client, event.op, event.user, event.kind, event.time_ns}};
    handle_hit(std::move(hit));
  } else if (type == message::done) {
    if (!w.open_ops.empty()) {
      throw ProtocolViolation(
          fmt::format("sent done with operation {} still open", w.open_ops.begin()->first));
    }
    w.done = true;
  } else {
    throw ProtocolViolation(fmt::format("sent a message of unknown type \"{}\"", type));
  }
}

void Trial::handle_event(Worker& w, const nlohmann::json& message) {
  auto event = history::Event::from_json(message.at("event"));
  event.worker = w.index;
  switch (event.type) {
    case history::EventType::invoke: {
      const auto planned = w.planned.find(event.op);
      if (planned == w.planned.end()) {
        throw ProtocolViolation(
            fmt::format("invoked operation {}, which is not in its plan", event.op));
      }
      const auto& [client, op] = planned->second;
      if (event.client != client || event.kind != op.kind || event.user != op.user) {
        throw ProtocolViolation(fmt::format(
            "invoked operation {} as client {}, {} of {}; its plan says client {}, {} of {}",
            event.op, event.client, one_line(event.kind, 40), one_line(event.user, 60), client,
            op.kind, op.user));
      }
      if (!w.invoked.insert(event.op).second) {
        throw ProtocolViolation(fmt::format("invoked operation {} twice", event.op));
      }
      w.open_ops[event.op] = event;
      break;
    }
    case history::EventType::ok:
    case history::EventType::fail:
    case history::EventType::info: {
      if (!w.open_ops.contains(event.op)) {
        throw ProtocolViolation(
            fmt::format("completed operation {}, which it had not invoked", event.op));
      }
      if (!event.value.is_object()) {
        throw ProtocolViolation(
            fmt::format("completed operation {} with a value that is not an object", event.op));
      }
      if (const auto waits = event.value.find("lock_waits");
          waits != event.value.end() &&
          !(waits->is_number_integer() && waits->get<std::int64_t>() >= 0)) {
        throw ProtocolViolation(
            fmt::format("completed operation {} with lock_waits {}, not a count", event.op,
                        one_line(waits->dump(), 40)));
      }
      if (event.type != history::EventType::ok) {
        const auto definite = event.value.find("definite");
        const auto text = event.value.find("message");
        if ((definite != event.value.end() && !definite->is_boolean()) ||
            (event.type == history::EventType::fail && definite == event.value.end()) ||
            (text != event.value.end() && !text->is_string())) {
          throw ProtocolViolation(fmt::format(
              "failed operation {} without a boolean \"definite\" and a string \"message\"",
              event.op));
        }
        const auto error = event.value.find("error");
        if (error == event.value.end() || !error->is_string() ||
            find_error_name(error->get<std::string>()) == nullptr) {
          throw ProtocolViolation(fmt::format(
              "failed operation {} with the error {}, which is not one of the protocol's names",
              event.op, error == event.value.end() ? "(none)" : one_line(error->dump(), 60)));
        }
      }
      w.open_ops.erase(event.op);
      break;
    }
    case history::EventType::failpoint:
      if (event.kind != echo_failpoint && !w.declared->declares(event.kind)) {
        throw ProtocolViolation(
            fmt::format("reported the failpoint {}, which it did not declare", event.kind));
      }
      if (w.gated.contains(event.kind)) {
        throw ProtocolViolation(fmt::format(
            "reported the gated failpoint {} as an event; a gated firing must wait as a hit",
            event.kind));
      }
      break;
    case history::EventType::fault:
    case history::EventType::phase:
      throw ProtocolViolation(fmt::format("sent a {} event, which only the controller records",
                                          history::name_of(event.type)));
  }
  history_.add(std::move(event));
}

void Trial::send(Worker& w, const nlohmann::json& message) {
  if (w.exited) return;
  // A worker that stops reading fills its socket; the controller gives it
  // this long, then counts it as broken rather than wait for good.
  constexpr auto patience = milliseconds(10'000);
  if (!w.channel->send(message, io::after(patience)) && !w.exited && !w.channel->peer_closed()) {
    violation(w, fmt::format("did not read its channel for {} s", patience.count() / 1000));
  }
}

void Trial::violation(Worker& w, const std::string& what) {
  if (!w.violation.empty()) return;
  w.violation = what;
  violations_.push_back(fmt::format("migrator {}: worker {} {}",
                                    environment_.migrator.declaration.name, w.index, what));
  record_fault("protocol_violation", {{"worker", w.index}, {"what", what}});
  w.dying = true;
  if (!w.exited) {
    w.process->stop(SIGKILL, milliseconds(1000));
    handle_exit(w);
  }
}

void Trial::handle_exit(Worker& w) {
  if (w.exited) return;
  if (w.process) {
    if (!w.done) {
      // Killed, or crashed at a failpoint: it is gone or going; reap it.
      w.process->stop(SIGKILL, milliseconds(1000));
    } else {
      // After done a worker exits by itself; what it leaves in its group
      // then shows.
      w.process->wait_for_exit(milliseconds(2000));
      w.process->stop(SIGTERM, milliseconds(2000));
    }
  }
  w.exited = true;
  if (w.process && w.process->left_behind() > 0) {
    violation(w, fmt::format("left {} process{} running in its process group (killed)",
                             w.process->left_behind(), w.process->left_behind() == 1 ? "" : "es"));
  }
  const auto at = now_ns();
  const std::string how = w.process ? w.process->describe_exit() : "gone";
  for (auto& [op, invoke] : w.open_ops) {
    history::Event info = invoke;
    info.type = history::EventType::info;
    info.time_ns = at;
    info.value = {{"error", "WorkerDied"},
                  {"message", "worker " + std::to_string(w.index) + " " + how}};
    history_.add(std::move(info));
  }
  w.open_ops.clear();
  std::erase_if(held_hits_, [&](const PendingHit& h) { return h.worker == w.index; });
}

void Trial::on_hit(const std::string& failpoint, HitHandler handler) {
  if (handler) {
    handlers_[failpoint] = std::move(handler);
  } else {
    handlers_.erase(failpoint);
  }
}

void Trial::order(const std::string& before, const std::string& after) {
  orderings_.emplace_back(before, after);
}

int Trial::fired(const std::string& failpoint) const {
  const auto it = fired_.find(failpoint);
  return it == fired_.end() ? 0 : it->second;
}

void Trial::skip(const std::string& failpoint) {
  ++fired_[failpoint];
  failpoint_order_.push_back(fmt::format("{} -> not reached", failpoint));
  release_ordered_hits();
}

std::string Trial::held_summary() const {
  std::map<std::string, int> held;
  for (const auto& hit : held_hits_) ++held[hit.info.failpoint];
  std::string summary;
  for (const auto& [failpoint, count] : held) {
    std::vector<std::string> waiting_for;
    for (const auto& [before, after] : orderings_) {
      if (after == failpoint && fired(before) == 0) waiting_for.push_back(before);
    }
    summary += fmt::format("{}{} firing{} of {} wait{} for {}", summary.empty() ? "" : "; ", count,
                           count == 1 ? "" : "s", failpoint, count == 1 ? "s" : "",
                           fmt::join(waiting_for, " and "));
  }
  return summary;
}

bool Trial::lock_held(const std::string& user) {
  auto redis =
      services::RedisConnection::connect(environment_.services.redis_url(), milliseconds(2000));
  return redis.command_integer({"EXISTS", endpoints().lock.key_prefix + user}) == 1;
}

bool Trial::may_fire(const std::string& failpoint) const {
  return std::all_of(orderings_.begin(), orderings_.end(), [&](const auto& pair) {
    return pair.second != failpoint || fired(pair.first) > 0;
  });
}

void Trial::handle_hit(PendingHit hit) {
  if (!may_fire(hit.info.failpoint)) {
    held_hits_.push_back(std::move(hit));
    return;
  }
  HitDecision decision = HitDecision::proceed;
  const bool scenario_gated = worker(hit.worker).scenario_gated.contains(hit.info.failpoint);
  if (auto it = handlers_.find(hit.info.failpoint); scenario_gated && it != handlers_.end()) {
    decision = it->second(hit.info);
  }
  grant(hit, decision);
  release_ordered_hits();
}

void Trial::grant(const PendingHit& hit, HitDecision decision) {
  const bool first = fired_[hit.info.failpoint]++ == 0;
  Worker& w = worker(hit.worker);
  if (w.scenario_gated.contains(hit.info.failpoint)) {
    failpoint_order_.push_back(fmt::format("w{}.c{} {} -> {}", hit.info.worker, hit.info.client,
                                           hit.info.failpoint, name_of(decision)));
  } else if (first) {
    // Gated for the interleaving only: which of many racing clients gets
    // there first is not the plan's to decide, but that the pair's first
    // point came before its second is, and that is what the order keeps.
    failpoint_order_.push_back(fmt::format("interleaving: {} first fired", hit.info.failpoint));
  }
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
  if (!w.exited) {
    send(w, {{"t", message::grant}, {"id", hit.id}, {"action", name_of(decision)}});
  }
}

void Trial::release_ordered_hits() {
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t i = 0; i < held_hits_.size(); ++i) {
      if (!may_fire(held_hits_[i].info.failpoint)) continue;
      PendingHit hit = std::move(held_hits_[i]);
      held_hits_.erase(held_hits_.begin() + static_cast<std::ptrdiff_t>(i));
      handle_hit(std::move(hit));
      progress = true;
      break;
    }
  }
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
  return workers_.at(static_cast<std::size_t>(index))->exited;
}

bool Trial::kill_worker(int index) {
  Worker& w = worker(index);
  if (w.exited) return false;
  w.dying = true;
  w.process->stop(SIGKILL, milliseconds(1000));
  // What it wrote before dying still counts; then its open operations are info.
  w.channel->read_available();
  drain(w);
  handle_exit(w);
  return true;
}

bool Trial::stop_worker(int index) {
  Worker& w = worker(index);
  if (w.exited || w.paused) return false;
  ::kill(-w.process->pid(), SIGSTOP);  // the group: a wrapper's child too
  w.paused = true;
  return true;
}

bool Trial::continue_worker(int index) {
  Worker& w = worker(index);
  if (w.exited || !w.paused) return false;
  ::kill(-w.process->pid(), SIGCONT);
  w.paused = false;
  return true;
}

std::chrono::milliseconds Trial::recovery_bound() const {
  return milliseconds(options_.integer("recovery_bound_ms"));
}

std::uint64_t Trial::add_http_fault(const std::string& service, const fakes::FaultSpec& spec) {
  if (service == "stripe") return stripe_->add_fault(spec);
  if (service == "litellm") return litellm_->add_fault(spec);
  throw std::logic_error("no fake named " + service);
}

void Trial::remove_http_fault(const std::string& service, std::uint64_t id) {
  if (service == "stripe") stripe_->remove_fault(id);
  if (service == "litellm") litellm_->remove_fault(id);
}

void Trial::set_stripe_search_lag(milliseconds lag) {
  stripe_->set_search_lag_ms(lag.count());
}

void Trial::stop_redis() {
  environment_.services.stop_redis();
}

void Trial::start_redis() {
  environment_.services.start_redis();
}

int Trial::terminate_backends() {
  pqxx::connection admin(environment_.services.admin_url().conninfo());
  pqxx::nontransaction tx(admin);
  return tx
      .exec_params1(
          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
          "WHERE datname = $1 AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
          "AND backend_type = 'client backend'",
          database_.name())[0]
      .as<int>();
}

void Trial::start_phase(std::string_view phase, nlohmann::json value) {
  phase_ = std::string(phase);
  history::Event event;
  event.type = history::EventType::phase;
  event.time_ns = now_ns();
  event.kind = phase_;
  event.value = std::move(value);
  history_.add(std::move(event));
}

void Trial::heal_phase(milliseconds timeout) {
  // Every timed fault plays out its plan, even when the scenario's workers
  // finished first: what is planned is what runs.
  start_fault_clock();
  const auto deadline = Clock::now() + timeout;
  while (std::any_of(faults_.begin(), faults_.end(), [](const PlannedFault& p) {
    return p.fault->timing.at && (!p.injected || (!p.healed && p.fault->timing.lasting));
  })) {
    throw_if_interrupted();
    if (Clock::now() >= deadline) break;  // heal below undoes what did act
    pump(std::min(deadline, Clock::now() + milliseconds(50)));
  }
  start_phase(history::phase_heal);
  for (auto it = faults_.rbegin(); it != faults_.rend(); ++it) heal(*it->fault);
  // A Redis that a failed heal left down would fail every lookup from here.
  if (!environment_.services.redis_running()) {
    environment_.services.start_redis();
    record_fault("redis_start", {{"reason", "down at the heal phase"}});
  }
  for (auto& w : workers_) {
    if (continue_worker(w->index)) {
      record_fault("resume", {{"worker", w->index}, {"reason", "still stopped at the heal phase"}});
    }
  }
  // Nothing is held back any more: every waiting firing proceeds.
  handlers_.clear();
  orderings_.clear();
  interleaved_.clear();
  release_ordered_hits();
  if (!wait_all_done(timeout)) {
    for (auto& w : workers_) {
      if (w->exited || w->done) continue;
      record_fault("abandon", {{"worker", w->index},
                               {"reason", "still running when the run phase timed out"}});
      w->process->stop(SIGKILL, milliseconds(1000));
      handle_exit(*w);
    }
  }
}

void Trial::liveness() {
  std::set<std::string> users = affected_;
  for (const auto& event : history_.events()) {
    if (event.type == history::EventType::invoke && !event.user.empty()) users.insert(event.user);
  }
  const auto bound = milliseconds(options_.integer("liveness_bound_ms"));
  start_phase(history::phase_liveness,
              {{"users", std::vector<std::string>(users.begin(), users.end())},
               {"bound_ms", bound.count()}});
  if (users.empty()) return;
  WorkerOptions live;
  const std::size_t clients = std::min<std::size_t>(8, users.size());
  live.clients.resize(clients);
  std::size_t i = 0;
  for (const auto& user : users) {
    live.clients[i++ % clients].ops.push_back(operation(history::op_lookup, user));
  }
  // A dead holder's lock may still stand: wait it out, within the bound.
  live.lock_max_wait = std::min(
      bound, lock_ttl() + milliseconds(options_.integer("recovery_bound_ms")) + milliseconds(1000));
  const int worker = run_worker(std::move(live));
  const auto rounds = static_cast<long>((users.size() + clients - 1) / clients);
  if (!wait_done({worker}, bound * rounds + milliseconds(10'000))) {
    record_fault("abandon", {{"worker", worker}, {"reason", "liveness lookups did not finish"}});
    Worker& w = this->worker(worker);
    w.process->stop(SIGKILL, milliseconds(1000));
    handle_exit(w);
  }
}

}  // namespace orgquake::engine
