#include "engine/worker_fleet.hpp"

#include <algorithm>
#include <csignal>
#include <map>
#include <optional>
#include <poll.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "engine/migrator_catalog.hpp"
#include "engine/worker_spares.hpp"
#include "services/child_process.hpp"
#include "worker/channel.hpp"
#include "worker/worker_protocol.hpp"

namespace orgquake::engine {

using worker::Channel;
using worker::echo_failpoint;
using worker::find_error_name;
using worker::HitDecision;
using worker::max_message_bytes;
using worker::MigratorDescription;
using worker::one_line;
using worker::OperationPlan;
using worker::ProtocolViolation;
using worker::WorkerPlan;
namespace message = worker::message;

using std::chrono::milliseconds;

struct WorkerFleet::Worker {
  int index = 0;
  std::optional<services::ChildProcess> process;
  std::unique_ptr<Channel> channel;
  bool ready = false;
  bool told_to_go = false;
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
  /// How long its plan lets an operation wait for a held lock: recorded on
  /// each invoke, for the bounded-wait invariant.
  std::int64_t lock_max_wait_ms = 0;
  /// Invoked operations without a completion yet: they become `info` if the
  /// worker dies.
  std::map<std::int64_t, history::Event> open_ops;
  std::filesystem::path log;
};

WorkerFleet::WorkerFleet(Setup setup, history::History& history, FailpointGate& gate,
                         RecordFault record_fault)
    : setup_(std::move(setup)),
      history_(history),
      gate_(gate),
      record_fault_(std::move(record_fault)) {}

WorkerFleet::~WorkerFleet() {
  for (auto& worker : workers_) {
    if (worker->process && !worker->exited) worker->process->stop(SIGKILL, milliseconds(1000));
  }
}

std::int64_t WorkerFleet::now_ns() const {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - setup_.trial_start)
      .count();
}

WorkerFleet::Worker& WorkerFleet::at(int index) {
  if (index < 0 || static_cast<std::size_t>(index) >= workers_.size()) {
    throw std::logic_error(fmt::format("no worker {}", index));
  }
  return *workers_[static_cast<std::size_t>(index)];
}

const WorkerFleet::Worker& WorkerFleet::at(int index) const {
  return const_cast<WorkerFleet*>(this)->at(index);
}

std::filesystem::path WorkerFleet::log_of(int index) const {
  return at(index).log;
}

int WorkerFleet::spawn(WorkerPlan plan, std::set<std::string> scenario_gated) {
  const int index = next_index();
  if (plan.worker != index) {
    throw std::logic_error(
        fmt::format("a plan for worker {} given as worker {}", plan.worker, index));
  }
  auto state = std::make_unique<Worker>();
  state->index = index;
  state->log = setup_.log_dir / fmt::format("trial-{}-worker-{}.log", setup_.trial_index, index);
  state->scenario_gated = std::move(scenario_gated);
  state->lock_max_wait_ms = plan.endpoints.lock.max_wait.count();
  state->gated.insert(plan.gated_failpoints.begin(), plan.gated_failpoints.end());
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
  WorkerProcess started = setup_.spares != nullptr
                              ? setup_.spares->take(state->log)
                              : WorkerProcess::start(setup_.migrator.command, state->log);
  state->process.emplace(std::move(started.process));
  state->channel = std::move(started.channel);
  state->log = started.log;
  workers_.push_back(std::move(state));
  send(*workers_.back(), plan_message);
  return index;
}

int WorkerFleet::spawn_idle() {
  auto state = std::make_unique<Worker>();
  state->index = next_index();
  state->log =
      setup_.log_dir / fmt::format("trial-{}-worker-{}.log", setup_.trial_index, state->index);
  // Exited and done from the start: nothing is sent to it, read from it,
  // stopped or killed.
  state->ready = state->done = state->exited = true;
  workers_.push_back(std::move(state));
  return workers_.back()->index;
}

bool WorkerFleet::ready(int index) const {
  return at(index).ready;
}

std::string WorkerFleet::not_ready(int index, milliseconds waited) {
  Worker& w = at(index);
  if (!w.exited) violation(w, fmt::format("did not send ready within {} s", waited.count() / 1000));
  if (!w.violation.empty()) return w.violation;
  if (!w.error.empty()) return w.error;
  return "it " + w.process->describe_exit() + " before ready";
}

void WorkerFleet::go(const std::vector<int>& workers) {
  for (int index : workers) {
    at(index).told_to_go = true;
    send(at(index), {{"t", message::go}});
  }
}

int WorkerFleet::dismiss_idle() {
  int dismissed = 0;
  for (auto& w : workers_) {
    if (w->told_to_go || w->exited || w->done) continue;
    // It never ran an operation: nothing of it is left open.
    dismissed += kill(w->index) ? 1 : 0;
  }
  return dismissed;
}

void WorkerFleet::grant(int index, std::int64_t id, HitDecision decision) {
  Worker& w = at(index);
  if (!w.exited) send(w, {{"t", message::grant}, {"id", id}, {"action", name_of(decision)}});
}

bool WorkerFleet::finished(int index) const {
  const Worker& w = at(index);
  return w.exited || w.done;
}

bool WorkerFleet::all_finished() const {
  return std::all_of(workers_.begin(), workers_.end(),
                     [](const auto& w) { return w->exited || w->done; });
}

bool WorkerFleet::exited(int index) const {
  return at(index).exited;
}

void WorkerFleet::pump(Clock::time_point deadline) {
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

void WorkerFleet::drain(Worker& w) {
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

void WorkerFleet::handle_message(Worker& w, const nlohmann::json& message) {
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
    gate_.offer(GatedHit{
        id, HitInfo{w.index, event.client, event.op, event.user, event.kind, event.time_ns},
        w.scenario_gated.contains(event.kind)});
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

void WorkerFleet::handle_event(Worker& w, const nlohmann::json& message) {
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
      if (event.value.is_null()) event.value = nlohmann::json::object();
      if (event.value.is_object()) event.value["lock_max_wait_ms"] = w.lock_max_wait_ms;
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
      if (event.type == history::EventType::ok &&
          w.open_ops.at(event.op).kind == history::op_serve) {
        // The rollout invariants judge a request by the path it says it
        // took under the flag version it says it read.
        const auto path = event.value.find("path");
        const auto version = event.value.find("flag_version");
        if (path == event.value.end() || !path->is_string() ||
            (*path != "legacy" && *path != "org") || version == event.value.end() ||
            !version->is_number_integer() || version->get<std::int64_t>() < 0) {
          throw ProtocolViolation(
              fmt::format("completed serve operation {} without a \"path\" of legacy or org and a "
                          "\"flag_version\" count",
                          event.op));
        }
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
    case history::EventType::redis:
    case history::EventType::rollout:
      throw ProtocolViolation(fmt::format("sent a {} event, which only the controller records",
                                          history::name_of(event.type)));
  }
  history_.add(std::move(event));
}

void WorkerFleet::send(Worker& w, const nlohmann::json& message) {
  if (w.exited) return;
  // A worker that stops reading fills its socket; the controller gives it
  // this long, then counts it as broken rather than wait for good.
  constexpr auto patience = milliseconds(10'000);
  if (!w.channel->send(message, io::after(patience)) && !w.exited && !w.channel->peer_closed()) {
    violation(w, fmt::format("did not read its channel for {} s", patience.count() / 1000));
  }
}

void WorkerFleet::violation(Worker& w, const std::string& what) {
  if (!w.violation.empty()) return;
  w.violation = what;
  violations_.push_back(
      fmt::format("migrator {}: worker {} {}", setup_.migrator.declaration.name, w.index, what));
  record_fault_("protocol_violation", {{"worker", w.index}, {"what", what}});
  w.dying = true;
  if (!w.exited) {
    w.process->stop(SIGKILL, milliseconds(1000));
    handle_exit(w);
  }
}

void WorkerFleet::handle_exit(Worker& w) {
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
  const auto now = now_ns();
  const std::string how = w.process ? w.process->describe_exit() : "gone";
  for (auto& [op, invoke] : w.open_ops) {
    history::Event info = invoke;
    info.type = history::EventType::info;
    info.time_ns = now;
    info.value = {{"error", "WorkerDied"},
                  {"message", "worker " + std::to_string(w.index) + " " + how}};
    history_.add(std::move(info));
  }
  w.open_ops.clear();
  gate_.forget_worker(w.index);
}

bool WorkerFleet::kill(int index) {
  Worker& w = at(index);
  if (w.exited) return false;
  w.dying = true;
  w.process->stop(SIGKILL, milliseconds(1000));
  // What it wrote before dying still counts; then its open operations are info.
  w.channel->read_available();
  drain(w);
  handle_exit(w);
  return true;
}

bool WorkerFleet::stop(int index) {
  Worker& w = at(index);
  if (w.exited || w.paused) return false;
  ::kill(-w.process->pid(), SIGSTOP);  // the group: a wrapper's child too
  w.paused = true;
  return true;
}

bool WorkerFleet::resume(int index) {
  Worker& w = at(index);
  if (w.exited || !w.paused) return false;
  ::kill(-w.process->pid(), SIGCONT);
  w.paused = false;
  return true;
}

}  // namespace orgquake::engine
