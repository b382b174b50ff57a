// Stripe and LiteLLM misbehave: errors before applying, timeouts, and the
// worst kind, requests applied but answered with an error or never answered
// (the client cannot tell it happened). Clients keep looking users up, so
// each failed migration is retried by a later lookup; every retry must
// converge without creating a second customer, team, membership or key.
#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/service_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct PlannedFault {
  std::string service;
  fakes::FaultSpec spec;
};

fakes::FaultSpec fault(std::string method, std::string path, fakes::FaultKind kind,
                       fakes::FaultTrigger trigger, int status = 500, std::int64_t delay_ms = 0) {
  fakes::FaultSpec spec;
  spec.method = std::move(method);
  spec.path = std::move(path);
  spec.kind = kind;
  spec.status = status;
  spec.delay_ms = delay_ms;
  spec.trigger = trigger;
  return spec;
}

/// The catalogue: every kind of failure the migrator's HTTP steps must
/// survive, on the routes where each hurts most. `first` counts come from
/// the seed, so trials differ in which request meets which fault.
std::vector<PlannedFault> plan_faults(Rng rng) {
  using fakes::FaultKind;
  auto first = [&](std::uint64_t most) {
    return fakes::FaultTrigger{1 + rng.below(most), 0, 1.0, 0};
  };
  return {
      {"litellm", fault("POST", "/team/new", FaultKind::status, first(3), 500)},
      {"litellm", fault("POST", "/team/member_add", FaultKind::apply_then_500, first(2))},
      {"litellm", fault("POST", "/key/update", FaultKind::apply_then_reset, first(2))},
      {"litellm", fault("POST", "/user/update", FaultKind::apply_then_hold, first(1))},
      {"litellm", fault("GET", "/user/info", FaultKind::delay, {0, 0, 0.3, 0}, 200, 40)},
      {"stripe", fault("POST", "/v1/customers/*", FaultKind::apply_then_reset, first(2))},
      {"stripe", fault("POST", "/v1/subscriptions/*", FaultKind::status, {0, 3, 1.0, 2}, 503)},
      {"stripe", fault("POST", "/v1/customers", FaultKind::apply_then_500, first(1))},
  };
}

struct HttpFaultsSettings {
  int users, workers, clients, rounds;
  std::chrono::milliseconds http_timeout;
};

class HttpFaults : public engine::ScenarioOf<HttpFaultsSettings> {
 public:
  std::string_view name() const override { return "http_faults"; }
  std::string_view description() const override {
    return "Stripe and LiteLLM errors, timeouts, and applied-but-lost responses while clients "
           "retry";
  }
  HttpFaultsSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"), o.common_count("workers"), o.common_count("clients"),
            o.count("rounds", 3, 1, 100, "times each client goes through the users"),
            o.duration("http_timeout_ms", 500, 50, 60000,
                       "how long an API call may take before it times out")};
  }

  void run(engine::Trial& trial, const HttpFaultsSettings& s) const override {
    const auto users = trial.choose_users(s.users, "users");
    std::vector<faults::HttpFault*> planned;
    for (const auto& f : plan_faults(trial.rng("faults"))) {
      planned.push_back(&trial.plan(std::make_unique<faults::HttpFault>(f.service, f.spec)));
    }
    // In force before the first request, until the heal phase.
    for (auto* fault : planned) trial.inject(*fault);

    const int workers = s.workers;
    const int clients = std::max<int>(1, s.clients / 4);
    std::vector<int> started;
    std::vector<engine::WorkerOptions> fleet;
    for (int w = 0; w < workers; ++w) {
      engine::WorkerOptions options;
      options.http_request_timeout = s.http_timeout;
      for (int c = 0; c < clients; ++c) {
        worker::ClientPlan client;
        const auto start = static_cast<std::size_t>(w * clients + c);
        for (int r = 0; r < s.rounds; ++r) {
          for (std::size_t i = 0; i < users.size(); ++i) {
            client.ops.push_back(
                trial.operation(history::op_lookup, users[(start + i) % users.size()]));
          }
        }
        options.clients.push_back(std::move(client));
      }
      fleet.push_back(std::move(options));
    }
    started = trial.start_workers(std::move(fleet));
    trial.go(started);
    wait_for(trial, started);
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(HttpFaults);

}  // namespace orgquake::scenarios
