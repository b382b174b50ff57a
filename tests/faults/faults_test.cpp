#define BOOST_TEST_MODULE orgquake faults
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include "core/error.hpp"
#include "fakes/fault_injector.hpp"
#include "faults/fault_plan.hpp"
#include "faults/service_faults.hpp"
#include "faults/stacked_faults.hpp"
#include "faults/worker_faults.hpp"

using namespace orgquake;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

// A target that does nothing but remember: each call and each record, in
// the order they came, so that a test sees what a fault did and when it
// recorded it relative to acting.
class RecordingTarget : public faults::FaultTarget {
 public:
  std::vector<std::string> calls;  ///< "record crash", "kill 2", ...
  std::vector<faults::FaultRecord> records;
  std::set<std::string> held_locks;
  std::set<int> exited, stopped;
  bool embedded = true, redis_up = true;
  std::map<std::uint64_t, std::string> http;  ///< installed id -> service
  std::uint64_t next_id = 7;
  std::chrono::milliseconds lag{0};

  void record(faults::FaultRecord record) override {
    calls.push_back("record " + record.kind);
    records.push_back(std::move(record));
  }
  std::uint64_t add_http_fault(const std::string& service, const fakes::FaultSpec&) override {
    calls.push_back("add " + service);
    http[next_id] = service;
    return next_id++;
  }
  std::uint64_t remove_http_fault(const std::string& service, std::uint64_t id) override {
    calls.push_back("remove " + service + " " + std::to_string(id));
    http.erase(id);
    return 2;
  }
  void set_stripe_search_lag(std::chrono::milliseconds l) override {
    calls.push_back("lag " + std::to_string(l.count()));
    lag = l;
  }
  bool redis_embedded() const override { return embedded; }
  bool redis_running() const override { return redis_up; }
  void stop_redis() override {
    calls.push_back("stop redis");
    redis_up = false;
  }
  void start_redis() override {
    calls.push_back("start redis");
    redis_up = true;
  }
  int terminate_backends(const faults::FaultSite& of) override {
    calls.push_back(of.worker < 0 ? "terminate"
                                  : fmt::format("terminate w{}.c{}", of.worker, of.client));
    return 3;
  }
  bool kill_worker(int worker) override {
    calls.push_back("kill " + std::to_string(worker));
    return exited.insert(worker).second;
  }
  bool worker_exited(int worker) const override { return exited.contains(worker); }
  bool stop_worker(int worker) override {
    if (exited.contains(worker) || stopped.contains(worker)) return false;
    calls.push_back("stop " + std::to_string(worker));
    stopped.insert(worker);
    return true;
  }
  bool continue_worker(int worker) override {
    if (!stopped.erase(worker)) return false;
    calls.push_back("continue " + std::to_string(worker));
    return true;
  }
  bool lock_held(const std::string& user) override { return held_locks.contains(user); }
  std::chrono::milliseconds lock_ttl() const override { return 400ms; }
  std::chrono::milliseconds recovery_bound() const override { return 600ms; }
};

fakes::FaultSpec http_spec() {
  fakes::FaultSpec spec;
  spec.method = "POST";
  spec.path = "/key/update";
  spec.kind = fakes::FaultKind::apply_then_500;
  return spec;
}

std::string usage_error_of(const json& table) {
  try {
    faults::stacked_fault(table, "spec: faults[0]");
  } catch (const UsageError& e) {
    return e.what();
  }
  BOOST_FAIL("expected a UsageError for " << table.dump());
  return {};
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_crash_records_before_it_kills_and_names_a_held_lock) {
  RecordingTarget target;
  target.held_locks = {"u1"};
  faults::WorkerCrash crash("migrate.after_org_insert", "u1");
  crash.inject(target, {2});
  BOOST_TEST(target.calls == (std::vector<std::string>{"record crash", "kill 2"}),
             boost::test_tools::per_element());
  const auto& value = target.records.at(0).value;
  BOOST_TEST(value.at("worker") == 2);
  BOOST_TEST(value.at("signal") == "SIGKILL");
  BOOST_TEST(value.at("holds_lock_of") == "u1");
  BOOST_TEST(value.at("ttl_ms") == 400);
  BOOST_TEST(value.at("recovery_bound_ms") == 600);
  BOOST_TEST(target.records.at(0).user == "u1");
}

BOOST_AUTO_TEST_CASE(a_crash_of_a_worker_without_the_lock_names_no_user) {
  RecordingTarget target;
  faults::WorkerCrash crash("lock.after_acquire", "u1");
  crash.inject(target, {0});
  BOOST_TEST(!target.records.at(0).value.contains("holds_lock_of"));
  BOOST_TEST(target.records.at(0).user.empty());
}

BOOST_AUTO_TEST_CASE(a_crash_of_an_exited_worker_records_nothing) {
  RecordingTarget target;
  target.exited = {1};
  faults::WorkerCrash crash("lock.after_acquire", "u1");
  crash.inject(target, {1});
  BOOST_TEST(target.calls.empty());
}

BOOST_AUTO_TEST_CASE(a_fault_aimed_at_a_worker_needs_one) {
  RecordingTarget target;
  faults::WorkerCrash crash("lock.after_acquire", "u1");
  BOOST_CHECK_THROW(crash.inject(target, {}), std::logic_error);
  BOOST_TEST(crash.needs_site());
}

BOOST_AUTO_TEST_CASE(a_pause_is_healed_once_by_a_resume) {
  RecordingTarget target;
  target.held_locks = {"u3"};
  faults::WorkerPause pause("migrate.before_commit", "u3", 900ms);
  BOOST_TEST(pause.lasting());
  pause.inject(target, {4});
  pause.heal(target);
  pause.heal(target);  // nothing more to undo
  BOOST_TEST(target.calls == (std::vector<std::string>{"stop 4", "record pause", "continue 4",
                                                       "record resume"}),
             boost::test_tools::per_element());
  BOOST_TEST(target.records.at(0).value.at("holds_lock_of") == "u3");
  BOOST_TEST(target.records.at(1).value.at("worker") == 4);
  BOOST_TEST(pause.plan() == json({{"kind", "pause_at_failpoint"},
                                   {"failpoint", "migrate.before_commit"},
                                   {"user", "u3"},
                                   {"stopped_ms", 900}}));
}

BOOST_AUTO_TEST_CASE(a_pause_of_an_exited_worker_does_nothing_and_heals_nothing) {
  RecordingTarget target;
  target.exited = {4};
  faults::WorkerPause pause("migrate.before_commit", "u3");
  pause.inject(target, {4});
  pause.heal(target);
  BOOST_TEST(target.calls.empty());
}

BOOST_AUTO_TEST_CASE(an_http_fault_heals_exactly_the_fault_it_installed) {
  RecordingTarget target;
  faults::HttpFault first("litellm", http_spec());
  faults::HttpFault second("stripe", http_spec());
  first.inject(target, {});
  second.inject(target, {});
  first.heal(target);
  BOOST_TEST(target.http.size() == 1u);
  BOOST_TEST(target.http.begin()->second == "stripe");
  BOOST_TEST(target.calls == (std::vector<std::string>{
                                 "record http_fault", "add litellm", "record http_fault",
                                 "add stripe", "remove litellm 7", "record http_fault_healed"}),
             boost::test_tools::per_element());
  BOOST_TEST(first.plan().at("service") == "litellm");
  BOOST_TEST(first.plan().at("fault").at("kind") == "apply_then_500");
  BOOST_CHECK_THROW(faults::HttpFault("redis", http_spec()), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(a_search_lag_is_set_and_cleared) {
  RecordingTarget target;
  faults::StripeSearchLag lag(2000ms);
  lag.inject(target, {});
  BOOST_TEST(target.lag.count() == 2000);
  lag.heal(target);
  BOOST_TEST(target.lag.count() == 0);
  BOOST_TEST(lag.plan() == json({{"kind", "stripe_search_lag"}, {"lag_ms", 2000}}));
}

BOOST_AUTO_TEST_CASE(a_redis_outage_stops_and_restarts_the_embedded_redis_only) {
  RecordingTarget target;
  faults::RedisOutage outage;
  outage.timing = {40ms, 300ms};
  outage.inject(target, {});
  BOOST_TEST(!target.redis_up);
  outage.heal(target);
  BOOST_TEST(target.redis_up);
  BOOST_TEST(target.calls == (std::vector<std::string>{"record redis_stop", "stop redis",
                                                       "start redis", "record redis_start"}),
             boost::test_tools::per_element());
  BOOST_TEST(outage.plan() ==
             json({{"kind", "redis_outage"}, {"timing", {{"at_ms", 40}, {"lasting_ms", 300}}}}));

  RecordingTarget external;
  external.embedded = false;
  faults::RedisOutage refused;
  BOOST_CHECK_THROW(refused.inject(external, {}), std::runtime_error);
  BOOST_TEST(external.redis_up);
}

BOOST_AUTO_TEST_CASE(a_backend_kill_is_instant_and_records_how_many) {
  RecordingTarget target;
  faults::BackendKill kill;
  BOOST_TEST(!kill.lasting());
  kill.inject(target, {});
  kill.heal(target);
  BOOST_TEST(target.calls == (std::vector<std::string>{"terminate", "record backend_kill"}),
             boost::test_tools::per_element());
  BOOST_TEST(target.records.at(0).value.at("terminated") == 3);
}

BOOST_AUTO_TEST_CASE(stacked_faults_are_built_from_spec_tables) {
  const auto outage = faults::stacked_fault(
      {{"kind", "redis_outage"}, {"at_ms", 40}, {"lasting_ms", 300}}, "spec: faults[0]");
  BOOST_TEST(outage->kind() == "redis_outage");
  BOOST_TEST(outage->timing.at->count() == 40);
  BOOST_TEST(outage->timing.lasting->count() == 300);

  const auto http = faults::stacked_fault(
      {{"kind", "http_fault"},
       {"service", "litellm"},
       {"http", {{"kind", "status"}, {"status", 429}, {"path", "/key/update"}}}},
      "spec: faults[1]");
  BOOST_TEST(http->timing.at->count() == 0);  // from the start by default
  BOOST_TEST(!http->timing.lasting);
  BOOST_TEST(http->plan().at("fault").at("status") == 429);

  const auto lag =
      faults::stacked_fault({{"kind", "stripe_search_lag"}, {"lag_ms", 500}}, "spec: faults[2]");
  BOOST_TEST(lag->plan().at("lag_ms") == 500);
  BOOST_TEST(faults::check_stacked_faults(json::array({{{"kind", "backend_kill"}, {"at_ms", 5}}}),
                                          "spec: faults")
                 .empty());
  const auto keyed =
      faults::stacked_fault({{"kind", "backend_kill"}, {"at_operation", 12}}, "spec: faults[3]");
  BOOST_TEST(!keyed->timing.at);
  BOOST_TEST(keyed->timing.at_operation.value() == 12);
  const auto at_step = faults::stacked_fault({{"kind", "backend_kill"},
                                              {"at_operation", 12},
                                              {"at_failpoint", "migrate.before_commit"},
                                              {"hit", 2}},
                                             "spec: faults[4]");
  BOOST_TEST(at_step->timing.at_failpoint.value() == "migrate.before_commit");
  BOOST_TEST(at_step->timing.hit == 2);
  BOOST_TEST(faults::stacked_fault({{"kind", "backend_kill"},
                                    {"at_operation", 12},
                                    {"at_failpoint", "migrate.before_commit"}},
                                   "spec: faults[5]")
                 ->timing.hit == 1);
}

BOOST_AUTO_TEST_CASE(a_bad_stacked_fault_is_one_line_naming_where_and_what) {
  struct Case {
    json table;
    std::vector<std::string> parts;
  };
  const std::vector<Case> cases = {
      {{{"at_ms", 5}}, {"needs kind", "redis_outage"}},
      {{{"kind", "earthquake"}}, {"unknown fault kind earthquake", "http_fault"}},
      {{{"kind", "crash_at_failpoint"}}, {"only a scenario can gate"}},
      {{{"kind", "redis_outage"}, {"duration_ms", 5}}, {"unknown key duration_ms", "lasting_ms"}},
      {{{"kind", "redis_outage"}, {"at_ms", -1}}, {"at_ms must be a whole number"}},
      {{{"kind", "redis_outage"}, {"at_ms", "soon"}}, {"at_ms", "\"soon\""}},
      {{{"kind", "backend_kill"}, {"lasting_ms", 5}}, {"instant"}},
      {{{"kind", "stripe_search_lag"}}, {"needs lag_ms"}},
      {{{"kind", "backend_kill"}, {"at_ms", 5}, {"at_operation", 2}}, {"not both"}},
      {{{"kind", "backend_kill"}, {"at_operation", -2}},
       {"at_operation: expected an operation id"}},
      {{{"kind", "backend_kill"}, {"at_failpoint", "migrate.before_commit"}},
       {"at_failpoint needs at_operation"}},
      {{{"kind", "backend_kill"}, {"at_operation", 2}, {"at_failpoint", 5}},
       {"at_failpoint: expected a failpoint name"}},
      {{{"kind", "backend_kill"}, {"at_operation", 2}, {"hit", 2}}, {"at_failpoint", "missing"}},
      {{{"kind", "backend_kill"},
        {"at_operation", 2},
        {"at_failpoint", "migrate.before_commit"},
        {"hit", 0}},
       {"hit: expected which firing"}},
      {{{"kind", "http_fault"}, {"service", "redis"}, {"http", {{"kind", "status"}}}},
       {"stripe", "litellm"}},
      {{{"kind", "http_fault"}, {"service", "stripe"}}, {"needs http"}},
      {{{"kind", "http_fault"}, {"service", "stripe"}, {"http", {{"kind", "melt"}}}}, {"http:"}},
  };
  for (const auto& c : cases) {
    const std::string message = usage_error_of(c.table);
    BOOST_TEST_CONTEXT("table " << c.table.dump() << " -> " << message) {
      BOOST_TEST(message.rfind("spec: faults[0]: ", 0) == 0);
      BOOST_TEST(message.find('\n') == std::string::npos);
      for (const auto& part : c.parts) BOOST_TEST(message.find(part) != std::string::npos);
    }
  }
  BOOST_TEST(faults::check_stacked_faults(json::object(), "spec: faults").find("list") !=
             std::string::npos);
}

// ---- The fault plan: timed faults on a made-up clock, in plan order.

BOOST_AUTO_TEST_CASE(a_fault_plan_fires_timed_faults_in_plan_order_on_its_clock) {
  RecordingTarget target;
  faults::FaultPlan plan;
  using Clock = faults::FaultPlan::Clock;
  const Clock::time_point t0{};
  auto outage = std::make_unique<faults::RedisOutage>();
  outage->timing = {100ms, 50ms};
  auto lag = std::make_unique<faults::StripeSearchLag>(900ms);
  lag->timing = {100ms, std::nullopt};  // due with the outage: after it, in plan order
  auto kill = std::make_unique<faults::BackendKill>();
  kill->timing = {30ms, std::nullopt};
  plan.add(std::move(outage));
  plan.add(std::move(lag));
  plan.add(std::move(kill));
  BOOST_TEST(plan.entries().size() == 3u);
  BOOST_TEST(plan.entries()[0].at("kind") == "redis_outage");

  // Nothing fires before the clock starts, however late it is.
  BOOST_TEST(!plan.fire_due(target, t0 + 1s).has_value());
  BOOST_TEST(target.calls.empty());
  plan.start_clock(t0);
  BOOST_TEST(plan.timed_pending());
  BOOST_TEST((plan.fire_due(target, t0 + 10ms) == t0 + 30ms));
  BOOST_TEST(target.calls.empty());
  BOOST_TEST((plan.fire_due(target, t0 + 30ms) == t0 + 100ms));
  BOOST_TEST(target.calls == (std::vector<std::string>{"terminate", "record backend_kill"}),
             boost::test_tools::per_element());
  target.calls.clear();
  // Both due at 100 ms: the outage (planned first), then the lag; the next
  // moment is the outage's heal, 50 ms after it was injected.
  BOOST_TEST((plan.fire_due(target, t0 + 100ms) == t0 + 150ms));
  BOOST_TEST(target.calls == (std::vector<std::string>{"record redis_stop", "stop redis",
                                                       "record stripe_search_lag", "lag 900"}),
             boost::test_tools::per_element());
  target.calls.clear();
  BOOST_TEST(!plan.fire_due(target, t0 + 150ms).has_value());
  BOOST_TEST(target.calls == (std::vector<std::string>{"start redis", "record redis_start"}),
             boost::test_tools::per_element());
  // The lag lasts until the heal phase; nothing timed is left to play out.
  BOOST_TEST(!plan.timed_pending());
  target.calls.clear();
  plan.heal_all(target);
  BOOST_TEST(target.calls == (std::vector<std::string>{"lag 0", "record stripe_search_lag"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_held_fault_clock_starts_only_when_started) {
  RecordingTarget target;
  faults::FaultPlan plan;
  auto kill = std::make_unique<faults::BackendKill>();
  kill->timing = {0ms, std::nullopt};
  plan.add(std::move(kill));
  plan.hold_clock();
  BOOST_TEST(plan.clock_held());
  BOOST_TEST(!plan.clock_started());
  BOOST_TEST(!plan.fire_due(target, faults::FaultPlan::Clock::time_point{} + 1h).has_value());
  plan.start_clock(faults::FaultPlan::Clock::time_point{} + 2h);
  BOOST_TEST(!plan.clock_held());
  plan.fire_due(target, faults::FaultPlan::Clock::time_point{} + 2h);
  BOOST_TEST(target.calls.front() == "terminate");
}

BOOST_AUTO_TEST_CASE(a_fault_plan_heals_newest_first_and_refuses_what_it_cannot_run) {
  RecordingTarget target;
  faults::FaultPlan plan;
  auto& litellm = plan.add(std::make_unique<faults::HttpFault>("litellm", http_spec()));
  auto& stripe = plan.add(std::make_unique<faults::HttpFault>("stripe", http_spec()));
  plan.inject(litellm, target, {}, {});
  plan.inject(stripe, target, {}, {});
  BOOST_CHECK_THROW(plan.inject(stripe, target, {}, {}), std::logic_error);
  target.calls.clear();
  plan.heal_all(target);
  BOOST_TEST(
      target.calls == (std::vector<std::string>{"remove stripe 8", "record http_fault_healed",
                                                "remove litellm 7", "record http_fault_healed"}),
      boost::test_tools::per_element());
  target.calls.clear();
  plan.heal_all(target);  // healed once, not twice
  BOOST_TEST(target.calls.empty());

  faults::BackendKill stray;
  BOOST_CHECK_THROW(plan.inject(stray, target, {}, {}), std::logic_error);
  // A fault aimed at a worker has no worker to aim at on the clock.
  auto crash = std::make_unique<faults::WorkerCrash>("migrate.before_commit", "u1");
  crash->timing.at = 10ms;
  BOOST_CHECK_THROW(plan.add(std::move(crash)), std::logic_error);

  // A fault that cannot act says which entry of the plan it is.
  RecordingTarget external;
  external.embedded = false;
  auto& outage = plan.add(std::make_unique<faults::RedisOutage>());
  try {
    plan.inject(outage, external, {}, {});
    BOOST_FAIL("expected the outage to refuse an external Redis");
  } catch (const std::runtime_error& e) {
    BOOST_TEST(std::string(e.what()).starts_with("fault 2 of the plan (redis_outage): "));
  }
}

// A reduced replay (orgquake shrink) leaves faults out by entry index: they
// keep their places in the plan, so the others keep their numbers, but they
// never act, timed or injected, and say so in their entries.
BOOST_AUTO_TEST_CASE(a_fault_left_out_of_a_replay_keeps_its_place_and_never_acts) {
  RecordingTarget target;
  faults::FaultPlan plan;
  using Clock = faults::FaultPlan::Clock;
  const Clock::time_point t0{};
  plan.act_only({1});
  auto kill = std::make_unique<faults::BackendKill>();
  kill->timing = {10ms, std::nullopt};
  plan.add(std::move(kill));
  auto& pause = plan.add(std::make_unique<faults::WorkerPause>("migrate.before_commit", "u1"));
  auto& crash = plan.add(std::make_unique<faults::WorkerCrash>("migrate.after_commit", "u2"));
  BOOST_TEST(plan.entries().size() == 3u);
  BOOST_TEST(plan.entries()[0].value("left_out", false));
  BOOST_TEST(!plan.entries()[1].contains("left_out"));
  BOOST_TEST(plan.entries()[2].value("left_out", false));

  plan.start_clock(t0);
  BOOST_TEST(!plan.fire_due(target, t0 + 20ms).has_value());
  BOOST_TEST(!plan.timed_pending());
  BOOST_TEST(!plan.inject(crash, target, {3}, t0 + 30ms));
  BOOST_TEST(target.calls.empty(), "a left-out fault acted");
  BOOST_TEST(plan.inject(pause, target, {3}, t0 + 40ms));
  BOOST_TEST(target.calls == (std::vector<std::string>{"stop 3", "record pause"}),
             boost::test_tools::per_element());
}

// A fault keyed to an operation fires when the trial learns that operation
// was invoked, heals after its `lasting` on the clock, and a fault whose
// operation never comes is not pending: the heal phase does not wait for it.
BOOST_AUTO_TEST_CASE(a_fault_keyed_to_an_operation_fires_when_it_is_invoked) {
  RecordingTarget target;
  faults::FaultPlan plan;
  using Clock = faults::FaultPlan::Clock;
  const Clock::time_point t0{};
  auto outage = std::make_unique<faults::RedisOutage>();
  outage->timing.at_operation = 7;
  outage->timing.lasting = 50ms;
  auto never = std::make_unique<faults::BackendKill>();
  never->timing.at_operation = 99;
  plan.add(std::move(outage));
  plan.add(std::move(never));
  BOOST_TEST(plan.entries()[0].at("timing") == json({{"at_operation", 7}, {"lasting_ms", 50}}));
  plan.start_clock(t0);
  BOOST_TEST(!plan.fire_due(target, t0 + 1s).has_value());
  BOOST_TEST(!plan.timed_pending());
  plan.operation_invoked(3, target, t0 + 1s);
  BOOST_TEST(target.calls.empty());
  plan.operation_invoked(7, target, t0 + 1s);
  BOOST_TEST(target.calls == (std::vector<std::string>{"record redis_stop", "stop redis"}),
             boost::test_tools::per_element());
  BOOST_TEST(plan.timed_pending());
  target.calls.clear();
  plan.operation_invoked(7, target, t0 + 1010ms);  // once only
  BOOST_TEST(target.calls.empty());
  BOOST_TEST(!plan.fire_due(target, t0 + 1050ms).has_value());
  BOOST_TEST(target.calls == (std::vector<std::string>{"start redis", "record redis_start"}),
             boost::test_tools::per_element());
  BOOST_TEST(!plan.timed_pending());

  auto both = std::make_unique<faults::BackendKill>();
  both->timing = {10ms, std::nullopt, 3};
  BOOST_CHECK_THROW(plan.add(std::move(both)), std::logic_error);
}

// A fault keyed to an operation's firing of a failpoint acts at exactly that
// firing (operation, failpoint, hit number), aimed at its worker's client,
// and at no other: not when the operation starts, not at another hit, not
// for another operation. Its worker gates the failpoint only while the
// fault acts in this replay.
BOOST_AUTO_TEST_CASE(a_fault_keyed_to_a_failpoint_fires_at_that_hit_of_that_operation) {
  RecordingTarget target;
  faults::FaultPlan plan;
  plan.act_only({0, 2});
  using Clock = faults::FaultPlan::Clock;
  const Clock::time_point t0{};
  const auto keyed = [](std::int64_t op, std::string failpoint, int hit) {
    auto kill = std::make_unique<faults::BackendKill>();
    kill->timing.at_operation = op;
    kill->timing.at_failpoint = std::move(failpoint);
    kill->timing.hit = hit;
    return kill;
  };
  plan.add(keyed(7, "migrate.before_commit", 2));
  plan.add(keyed(7, "migrate.after_journal", 1));  // left out
  plan.add(keyed(9, "migrate.after_journal", 1));
  BOOST_TEST(plan.entries()[0].at("timing") ==
             json({{"at_operation", 7}, {"at_failpoint", "migrate.before_commit"}, {"hit", 2}}));
  BOOST_TEST(plan.failpoints_awaited_by(7) == std::set<std::string>{"migrate.before_commit"});
  BOOST_TEST(plan.failpoints_awaited_by(9) == std::set<std::string>{"migrate.after_journal"});
  BOOST_TEST(plan.failpoints_awaited_by(8).empty());
  plan.start_clock(t0);
  plan.operation_invoked(7, target, t0);
  BOOST_TEST(!plan.fire_due(target, t0 + 1s).has_value());
  BOOST_TEST(plan.failpoint_reached(7, "migrate.before_commit", 1, target, {1, 0}, t0).empty());
  BOOST_TEST(plan.failpoint_reached(8, "migrate.before_commit", 2, target, {1, 0}, t0).empty());
  BOOST_TEST(target.calls.empty());
  BOOST_TEST(plan.failpoint_reached(7, "migrate.before_commit", 2, target, {1, 3}, t0) ==
                 std::vector<int>{0},
             boost::test_tools::per_element());
  BOOST_TEST(target.calls == (std::vector<std::string>{"terminate w1.c3", "record backend_kill"}),
             boost::test_tools::per_element());
  target.calls.clear();
  BOOST_TEST(plan.failpoint_reached(7, "migrate.before_commit", 2, target, {1, 3}, t0).empty());
  BOOST_TEST(plan.failpoint_reached(7, "migrate.after_journal", 1, target, {1, 3}, t0).empty());
  BOOST_TEST(target.calls.empty());  // once only; the left-out one never acts
  BOOST_TEST(plan.failpoint_reached(9, "migrate.after_journal", 1, target, {2, 0}, t0) ==
                 std::vector<int>{2},
             boost::test_tools::per_element());

  auto no_operation = std::make_unique<faults::BackendKill>();
  no_operation->timing.at_failpoint = "migrate.before_commit";
  BOOST_CHECK_THROW(plan.add(std::move(no_operation)), std::logic_error);
  BOOST_CHECK_THROW(plan.add(keyed(7, "migrate.before_commit", 0)), std::logic_error);
  // A worker fault may be keyed to a firing: the firing names its worker.
  auto pause = std::make_unique<faults::WorkerPause>("migrate.after_journal", "u1");
  pause->timing.at_operation = 4;
  pause->timing.at_failpoint = "migrate.after_journal";
  BOOST_CHECK_NO_THROW(plan.add(std::move(pause)));
}
