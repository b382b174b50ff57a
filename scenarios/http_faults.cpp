// Stripe and LiteLLM misbehave: errors before applying, timeouts, and the
// worst kind, requests applied but answered with an error or never answered
// (the client cannot tell it happened). Clients keep looking users up, so
// each failed migration is retried by a later lookup; every retry must
// converge without creating a second customer, team, membership or key.
#include <algorithm>

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
/// the seed, so trials differ in which request of a lookup meets which fault.
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
      {"stripe", fault("POST", "/v1/subscriptions/*", FaultKind::status, first(1), 503)},
      {"stripe", fault("POST", "/v1/customers", FaultKind::apply_then_500, first(1))},
  };
}

struct HttpFaultsSettings {
  int users, workers, clients, rounds, faulted_users;
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
    return {o.common_count("users"),
            o.common_count("workers"),
            o.common_count("clients"),
            o.count("rounds", 3, 1, 100, "times each client goes through the users"),
            o.count("faulted_users", 4, 1, 1000,
                    "users whose first lookups meet every fault of the catalogue"),
            o.duration("http_timeout_ms", 500, 50, 60000,
                       "how long an API call may take before it times out")};
  }

  void run(engine::Trial& trial, const HttpFaultsSettings& s) const override {
    const auto users = trial.choose_users(s.users, "users");
    const int clients = std::max<int>(1, s.clients / 4);
    auto fleet = lookup_fleet(trial, s.workers, clients, users, s.rounds, 1);
    for (auto& worker : fleet) worker.http_request_timeout = s.http_timeout;
    // Each ordinal fault (first N, every Nth) is scoped to the first
    // lookups of a few users (edge cases first, as chosen): it counts that
    // lookup's requests alone, by their Orgquake-Operation header, so that a
    // shrunk replay that leaves other lookups out meets it on the same
    // request. A fault drawn by probability is keyed by the request already.
    std::vector<std::string> faulted(
        users.begin(), users.begin() + std::min<std::ptrdiff_t>(s.faulted_users, users.size()));
    // One without a Stripe customer among them, so that creating one meets its faults.
    for (const auto& user : users_with(trial, world::EdgeCase::no_stripe_customer)) {
      if (std::find(faulted.begin(), faulted.end(), user) != faulted.end()) break;
      if (std::find(users.begin(), users.end(), user) == users.end()) continue;
      faulted.back() = user;
      break;
    }
    std::vector<faults::HttpFault*> planned;
    for (const auto& f : plan_faults(trial.rng("faults"))) {
      const bool ordinal = f.spec.trigger.first != 0 || f.spec.trigger.every != 0;
      if (!ordinal) {
        planned.push_back(&trial.plan(std::make_unique<faults::HttpFault>(f.service, f.spec)));
        continue;
      }
      for (const auto& user : faulted) {
        for (const auto op : first_lookups_of(fleet, user, 2)) {
          auto spec = f.spec;
          spec.operation = op;
          planned.push_back(&trial.plan(std::make_unique<faults::HttpFault>(f.service, spec)));
        }
      }
    }
    trial.note_choice({{"kind", "lookups"}, {"users", users}, {"faulted_users", faulted}});
    // The fleet connects first (its sessions touch no API), so that the
    // run, which begins with the first fault, goes on at once: the faults
    // are in force before the first request all the same.
    const auto workers = trial.start_workers(std::move(fleet));
    for (auto* fault : planned) trial.inject(*fault);
    trial.go(workers);
    wait_for(trial, workers);
    // Healed here, not in the heal phase, to count what they met.
    for (auto* fault : planned) trial.heal(*fault);
    if (!any_fault_counted(trial.history(), "http_fault_healed", "fired")) {
      trial.not_exercised(
          "no HTTP fault met a request (a scoped fault needs requests that carry the "
          "Orgquake-Operation header: docs/worker-protocol.md)");
    }
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(HttpFaults);

}  // namespace orgquake::scenarios
