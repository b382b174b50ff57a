#include "worker/worker.hpp"

#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <unistd.h>

#include <boost/fiber/all.hpp>
#include <fmt/format.h>

#include "core/random.hpp"
#include "history/history.hpp"
#include "migrator/dual_path.hpp"
#include "migrator/failpoints/injected_error.hpp"
#include "migrator/failpoints/registry.hpp"
#include "migrator/failpoints/spec.hpp"
#include "migrator/io/reactor.hpp"
#include "migrator/loading.hpp"
#include "migrator/migrator.hpp"
#include "migrator/migrator_client.hpp"
#include "migrator/verification.hpp"
#include "worker/channel.hpp"
#include "worker/worker_plan.hpp"
#include "worker/worker_protocol.hpp"

namespace orgquake::worker {
namespace {

using Clock = std::chrono::steady_clock;

/// A legacy id no world has: the warm-up lookup finds nothing.
constexpr const char* warm_up_user = "orgquake-warm-up-no-such-user";

/// What a client fiber is doing, so that a failpoint firing in it can be
/// attributed to a client, an operation and a user.
struct ClientSlot {
  int client = -1;
  std::int64_t op = -1;
  std::string user;
};

/// How an operation failed, as the history names it. `reconnect`: the
/// client's connections may be broken and are made afresh before the next op.
struct Failure {
  std::string error;
  std::string message;
  bool reconnect = true;
  /// Whether the operation certainly changed nothing (worker-protocol.md's list).
  bool definite() const {
    const auto* name = find_error_name(error);
    return name != nullptr && name->definite;
  }
};

Failure classify(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const migrator::LockTimeout& e) {
    return {"LockTimeout", e.what(), false};
  } catch (const migrator::FencedOut& e) {
    return {"FencedOut", e.what(), false};
  } catch (const migrator::UnknownUser& e) {
    return {"UnknownUser", e.what(), false};
  } catch (const migrator::MigrationError& e) {
    return {"MigrationError", e.what(), true};
  } catch (const migrator::VerificationError& e) {
    return {"VerificationError", e.what(), false};
  } catch (const failpoints::InjectedError& e) {
    return {"InjectedError", e.what(), false};
  } catch (const io::RedisUnavailable& e) {
    return {"RedisUnavailable", e.what(), true};
  } catch (const io::PgConnectionError& e) {
    return {"PgConnectionError", e.what(), true};
  } catch (const io::PgError& e) {
    return {"PgError", e.what(), true};
  } catch (const io::HttpError& e) {
    return {"HttpError", e.what(), true};
  } catch (const std::exception& e) {
    return {"Error", e.what(), true};
  }
}

}  // namespace

MigratorDescription describe(const std::string& migrator) {
  MigratorDescription description;
  description.name = migrator;
  description.language = "c++";
  for (const auto& state : failpoints::describe()) {
    description.failpoints.push_back({std::string(state.name), std::string(state.description)});
  }
  description.operations = {std::string(history::op_lookup), std::string(history::op_migrate),
                            std::string(history::op_serve)};
  if (migrator::make_migrator(migrator)->compensates()) {
    description.operations.emplace_back(history::op_compensate);
  }
  return description;
}

namespace {

class Worker {
 public:
  Worker(Channel& channel, WorkerPlan plan)
      : channel_(channel),
        plan_(std::move(plan)),
        migrator_(migrator::make_migrator(plan_.migrator)) {
    lookup_.strategy = migrator::parse_load_strategy(plan_.strategy);
    lookup_.fast_path = plan_.fast_path;
    gated_.insert(plan_.gated_failpoints.begin(), plan_.gated_failpoints.end());
  }

  int run() {
    arm_failpoints();
    boost::fibers::fiber reader([this] { read_controller(); });
    reader.detach();

    std::vector<boost::fibers::fiber> clients;
    for (std::size_t i = 0; i < plan_.clients.size(); ++i) {
      clients.emplace_back([this, i] { run_client(static_cast<int>(i)); });
    }
    if (plan_.clients.empty()) channel_.send(describe(plan_.migrator).to_json());
    for (auto& client : clients) client.join();
    channel_.send({{"t", message::done}});
    // Nothing to tidy: the kernel closes every connection, as a replica that
    // exits leaves them. _exit skips the detached reader's teardown.
    std::fflush(nullptr);
    ::_exit(0);
  }

 private:
  std::int64_t now_ns() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch())
               .count() -
           plan_.trial_start_ns;
  }

  void emit(history::Event event) {
    event.worker = plan_.worker;
    channel_.send({{"t", message::event}, {"event", event.to_json()}});
  }

  history::Event op_event(history::EventType type, const OperationPlan& op, int client) {
    history::Event event;
    event.type = type;
    event.time_ns = now_ns();
    event.client = client;
    event.op = op.op;
    event.kind = op.kind;
    event.user = op.user;
    event.phase = plan_.phase;
    return event;
  }

  void arm_failpoints() {
    failpoints::set_seed(plan_.seed);
    // Every failpoint is observed ("off" fires, does nothing, and reports),
    // so the history shows where each client was; the plan's own
    // configuration goes on top.
    std::string observe;
    for (const auto& state : failpoints::describe()) {
      observe += fmt::format("{}{}=off", observe.empty() ? "" : ";", state.name);
    }
    failpoints::configure(observe);
    if (!plan_.failpoints.empty()) failpoints::configure(plan_.failpoints);
    failpoints::set_observer([this](const failpoints::Hit& hit) { on_failpoint(hit); });
  }

  void on_failpoint(const failpoints::Hit& hit) {
    history::Event event;
    event.type = history::EventType::failpoint;
    event.time_ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(hit.at.time_since_epoch()).count() -
        plan_.trial_start_ns;
    event.kind = std::string(hit.failpoint);
    event.value = {{"action", std::string(failpoints::keyword_of(hit.action))}};
    if (!hit.argument.empty()) event.value["argument"] = hit.argument;
    if (auto it = slots_.find(boost::this_fiber::get_id()); it != slots_.end()) {
      event.client = it->second->client;
      event.op = it->second->op;
      event.user = it->second->user;
    }
    event.worker = plan_.worker;
    if (!gated_.contains(event.kind)) {
      channel_.send({{"t", message::event}, {"event", event.to_json()}});
      return;
    }
    // Gated: the controller decides, possibly after stopping this process
    // or letting another failpoint fire first.
    const std::int64_t id = next_hit_id_++;
    boost::fibers::promise<HitDecision> promise;
    auto decision = promise.get_future();
    pending_hits_.emplace(id, std::move(promise));
    channel_.send({{"t", message::hit}, {"id", id}, {"event", event.to_json()}});
    const HitDecision what = decision.get();
    if (what == HitDecision::crash) {
      ::kill(::getpid(), SIGKILL);
    } else if (what == HitDecision::error) {
      throw failpoints::InjectedError(hit.failpoint, "injected by the controller");
    }
  }

  void read_controller() {
    try {
      read_messages();
    } catch (const std::exception& e) {
      // A message this worker cannot follow: say so and stop (an exception
      // escaping a fiber would terminate without a word).
      std::fprintf(stderr, "orgquake worker %d: bad message from the controller: %s\n",
                   plan_.worker, e.what());
      std::fflush(nullptr);
      ::_exit(2);
    }
    // The controller is gone: a replica without its orchestrator stops.
    ::_exit(3);
  }

  void read_messages() {
    while (channel_.read_blocking()) {
      while (auto message = channel_.next()) {
        const auto type = message->value("t", std::string());
        if (type == message::go) {
          if (!went_) go_.set_value();
          went_ = true;
        } else if (type == message::grant) {
          const auto id = message->at("id").get<std::int64_t>();
          const auto action = message->at("action").get<std::string>();
          auto it = pending_hits_.find(id);
          if (it == pending_hits_.end()) continue;
          it->second.set_value(action == "crash"   ? HitDecision::crash
                               : action == "error" ? HitDecision::error
                                                   : HitDecision::proceed);
          pending_hits_.erase(it);
        }
      }
    }
  }

  /// A client's connections, named after it (worker::connection_name):
  /// the harness's lock observer tells by its Redis connection's name which
  /// operation sent each lock command, and a backend kill at one of its
  /// firings finds its PostgreSQL session by the application_name.
  std::unique_ptr<migrator::MigratorClient> connect(int client) {
    auto endpoints = plan_.endpoints;
    endpoints.redis.client_name = connection_name(plan_.worker, client);
    endpoints.pg_application_name = endpoints.redis.client_name;
    auto connected =
        migrator::MigratorClient::connect(endpoints, io::after(std::chrono::seconds(5)));
    // A new PostgreSQL session fills its catalog caches on its first query,
    // milliseconds of server time each: done here, before ready, the race's
    // first lookups meet warm sessions, as an app server's pooled ones are.
    migrator::load_user(connected->pg, warm_up_user, lookup_.strategy);
    return connected;
  }

  void run_client(int index) {
    ClientSlot slot;
    slot.client = index;
    slots_[boost::this_fiber::get_id()] = &slot;
    const ClientPlan& plan = plan_.clients[static_cast<std::size_t>(index)];

    std::unique_ptr<migrator::MigratorClient> client;
    std::string connect_error;
    try {
      client = connect(index);
    } catch (const std::exception& e) {
      connect_error = e.what();  // each operation tries again, and fails visibly
    }
    if (++connected_ == plan_.clients.size()) channel_.send(describe(plan_.migrator).to_json());
    go_shared_.wait();
    if (plan.start_delay_ms > 0) {
      boost::this_fiber::sleep_for(std::chrono::milliseconds(plan.start_delay_ms));
    }

    for (const auto& op : plan.ops) {
      slot.op = op.op;
      slot.user = op.user;
      emit(op_event(history::EventType::invoke, op, index));
      std::exception_ptr error;
      nlohmann::json value = nlohmann::json::object();
      int lock_waits = 0;
      try {
        if (op.kind == op_echo) {
          value = echo(op);
        } else {
          if (!client) client = connect(index);
          // Every API request of the operation says which it is.
          client->stripe_http->set_header(operation_header, std::to_string(op.op));
          client->litellm_http->set_header(operation_header, std::to_string(op.op));
          auto ctx = client->context(Rng(plan_.seed).derive(std::to_string(op.op)).next());
          try {
            value = perform(ctx, op);
          } catch (...) {
            lock_waits = ctx.stats.lock_waits;
            throw;
          }
          lock_waits = ctx.stats.lock_waits;
        }
      } catch (...) {
        error = std::current_exception();
      }
      auto done = op_event(error ? history::EventType::fail : history::EventType::ok, op, index);
      if (error) {
        const Failure failure = classify(error);
        done.value = {{"error", failure.error},
                      {"message", one_line(failure.message, 500)},
                      {"definite", failure.definite()}};
        if (failure.reconnect) client.reset();
      } else {
        done.value = std::move(value);
      }
      done.value["lock_waits"] = lock_waits;
      emit(std::move(done));
      slot.op = -1;
      slot.user.clear();
      failpoints::clear_hits();  // the history has them; the registry's log must not grow
    }
    slots_.erase(boost::this_fiber::get_id());
  }

  /// The protocol's echo operation: the reserved failpoint, no server.
  nlohmann::json echo(const OperationPlan& op) {
    failpoints::Hit hit;
    hit.failpoint = echo_failpoint;
    hit.at = Clock::now();
    on_failpoint(hit);
    return {{"echo", op.user}};
  }

  nlohmann::json perform(migrator::MigratorContext& ctx, const OperationPlan& op) {
    if (op.kind == history::op_lookup) {
      const int migrations_before = ctx.stats.migrations;
      const auto user = migrator_->get_user_verified(ctx, op.user, lookup_);
      nlohmann::json value = {{"verified", true},
                              {"migrated_here", ctx.stats.migrations > migrations_before}};
      if (user.personal_org) value["org_id"] = user.personal_org->id;
      return value;
    }
    if (op.kind == history::op_migrate) {
      // A backfill job: the migrator's batch path (lock, migrate, release).
      const int migrations_before = ctx.stats.migrations;
      const bool released = migrator_->backfill_user(ctx, op.user);
      nlohmann::json value = {{"released", released},
                              {"migrated_here", ctx.stats.migrations > migrations_before}};
      // The org the backfill left the user in, so that the same-org check
      // compares the batch path with the lookups it raced.
      const auto org = ctx.pg.exec(
          "SELECT current_org_id::text FROM app_user WHERE legacy_user_id = $1", {op.user});
      if (!org.empty() && !org.is_null(0, 0)) value["org_id"] = std::string(org.text(0, 0));
      return value;
    }
    if (op.kind == history::op_serve) {
      const int migrations_before = ctx.stats.migrations;
      auto value = migrator::to_json(migrator_->serve_user(ctx, op.user, lookup_));
      value["migrated_here"] = ctx.stats.migrations > migrations_before;
      return value;
    }
    if (op.kind == history::op_compensate) {
      return {{"undone", migrator_->compensate_user(ctx, op.user)}};
    }
    throw std::logic_error("unknown operation kind " + op.kind);
  }

  Channel& channel_;
  WorkerPlan plan_;
  std::unique_ptr<migrator::Migrator> migrator_;
  migrator::LookupOptions lookup_;
  std::set<std::string, std::less<>> gated_;
  std::map<boost::fibers::context::id, ClientSlot*> slots_;
  std::map<std::int64_t, boost::fibers::promise<HitDecision>> pending_hits_;
  std::int64_t next_hit_id_ = 0;
  std::size_t connected_ = 0;
  boost::fibers::promise<void> go_;
  bool went_ = false;  ///< a second "go" is harmless
  boost::fibers::shared_future<void> go_shared_ = go_.get_future().share();
};

}  // namespace

int run_worker(int channel_fd) {
  io::use_reactor_scheduler();
  Channel channel(channel_fd);
  std::optional<nlohmann::json> first;
  try {
    while (!(first = channel.next())) {
      if (!channel.read_blocking() && !(first = channel.next())) return 3;
    }
  } catch (const std::exception& e) {
    channel.send({{"t", message::error}, {"message", e.what()}});
    return 2;
  }
  if (first->value("t", std::string()) == message::describe) {
    if (!is_protocol_version(first->value("protocol", nlohmann::json()))) {
      channel.send(
          {{"t", message::error},
           {"message",
            fmt::format("this worker speaks protocol version {}, not {}", protocol_version,
                        one_line(first->value("protocol", nlohmann::json()).dump(), 40))}});
      return 2;
    }
    channel.send(describe(first->value("migrator", std::string("reference"))).to_json());
    return 0;
  }
  WorkerPlan plan;
  try {
    if (first->value("t", std::string()) != message::plan) {
      throw std::invalid_argument(
          fmt::format("expected a plan or describe message first, got {}", first->dump()));
    }
    plan = WorkerPlan::from_json(*first);
  } catch (const std::exception& e) {
    channel.send({{"t", message::error}, {"message", std::string("bad worker plan: ") + e.what()}});
    return 2;
  }
  try {
    Worker worker(channel, std::move(plan));
    return worker.run();
  } catch (const std::exception& e) {
    channel.send({{"t", message::error}, {"message", e.what()}});
    return 2;
  }
}

}  // namespace orgquake::worker
