#define BOOST_TEST_MODULE orgquake faults
#include <chrono>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/error.hpp"
#include "fakes/fault_injector.hpp"
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
  void remove_http_fault(const std::string& service, std::uint64_t id) override {
    calls.push_back("remove " + service + " " + std::to_string(id));
    http.erase(id);
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
  int terminate_backends() override {
    calls.push_back("terminate");
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
