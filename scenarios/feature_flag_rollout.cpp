// The migration guide's feature-flag rollout under live traffic: several
// workers' clients keep serving requests (op `serve`: the rollout flag picks
// the legacy path or the org path, and the other path is compared) while
// the controller walks the flag through the guide's steps:
//
//   enable for test users (allow list, 0 %) -> 5 % -> 50 % -> 100 %
//   -> rollback (0 %, no allow list: the flag disabled) -> forward again (50 %)
//
// Each step is taken when a share of the requests has completed, not at a
// moment, so that a replay takes it at the same point of the story. Faults
// fire meanwhile: API calls fail by a probability drawn per request, and
// migration transactions are terminated at their commit.
//
// The rollout invariants judge it: no request fails or changes its answer
// because of a flip (non_breaking_rollout), no user outside the rollout is
// served by the org path or migrated (gradual_rollout).
#include <algorithm>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/service_faults.hpp"
#include "history/operations.hpp"
#include "migrator/rollout.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

/// One step of the rollout: the flag's state from then on.
struct Step {
  const char* name;
  int percentage;
  bool test_users;  ///< the allow list holds the test users
};

constexpr Step rollout_steps[] = {
    {"enable for test users", 0, true},
    {"5 %", 5, true},
    {"50 %", 50, true},
    {"100 %", 100, true},
    {"rollback", 0, false},
    {"forward again", 50, true},
};

struct FeatureFlagRolloutSettings {
  int users, workers, clients, requests, test_users, kills;
  bool http_faults;
};

/// Follows the served requests of a history as it grows: how many have
/// completed, and which versions of the flag they read.
class ServedSoFar {
 public:
  void update(const history::History& history) {
    const auto& events = history.events();
    for (; seen_ < events.size(); ++seen_) {
      const auto& e = events[seen_];
      if (e.kind != history::op_serve) continue;
      if (e.type == history::EventType::ok) {
        versions_read_.insert(e.value.value("flag_version", std::int64_t{-1}));
      }
      if (e.type == history::EventType::ok || e.type == history::EventType::fail ||
          e.type == history::EventType::info) {
        ++completed_;
      }
    }
  }
  int completed() const { return completed_; }
  bool read(std::int64_t version) const { return versions_read_.contains(version); }

 private:
  std::size_t seen_ = 0;
  int completed_ = 0;
  std::set<std::int64_t> versions_read_;
};

class FeatureFlagRollout : public engine::ScenarioOf<FeatureFlagRolloutSettings> {
 public:
  std::string_view name() const override { return "feature_flag_rollout"; }
  std::string_view description() const override {
    return "the rollout flag goes to test users, 5 %, 50 %, 100 %, back to 0 and forward again "
           "while requests are served";
  }
  FeatureFlagRolloutSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"),
            o.common_count("workers"),
            o.common_count("clients"),
            o.count("requests", 24, 7, 100000, "requests each client serves over the rollout"),
            o.count("test_users", 2, 0, 100, "users allow-listed before any percentage"),
            o.count("kills", 4, 0, 10000,
                    "requests whose migration transaction is terminated at its commit"),
            o.flag("http_faults", true,
                   "LiteLLM and Stripe calls fail by a probability drawn per request")};
  }

  void run(engine::Trial& trial, const FeatureFlagRolloutSettings& s) const override {
    const auto users = trial.choose_users(s.users, "users");
    const std::vector<std::string> test_users(
        users.begin(), users.begin() + std::min<std::ptrdiff_t>(s.test_users, users.size()));

    // Every client serves random users of the pool; several clients meet
    // one user, under different states of the flag.
    Rng pick = trial.rng("requests");
    std::vector<engine::WorkerOptions> fleet(static_cast<std::size_t>(s.workers));
    std::vector<std::int64_t> serves;
    for (auto& worker : fleet) {
      worker.clients.resize(static_cast<std::size_t>(s.clients));
      for (auto& client : worker.clients) {
        for (int i = 0; i < s.requests; ++i) {
          client.ops.push_back(trial.operation(history::op_serve, users[pick.below(users.size())]));
          serves.push_back(client.ops.back().op);
        }
      }
    }
    plan_http_faults(trial, s);
    plan_kills(trial, s, fleet);

    const int total = static_cast<int>(serves.size());
    const int steps = static_cast<int>(std::size(rollout_steps));
    nlohmann::json plan = nlohmann::json::array();
    for (int i = 0; i < steps; ++i) {
      plan.push_back({{"step", rollout_steps[i].name},
                      {"percentage", rollout_steps[i].percentage},
                      {"test_users", rollout_steps[i].test_users},
                      {"after_completed", step_threshold(i, steps, total)}});
    }
    trial.note_choice({{"kind", "rollout"},
                       {"users", users},
                       {"test_users", test_users},
                       {"steps", std::move(plan)}});

    const auto workers = start_fleet(trial, std::move(fleet));
    ServedSoFar served;
    std::int64_t version = 0;  // the schema's
    for (int i = 0; i < steps; ++i) {
      // The next step once its share of requests completed and some request
      // read the flag as it stands: the controller may see completions in
      // bursts, and a state no request read was not rolled out.
      const int threshold = step_threshold(i, steps, total);
      const bool reached = trial.wait_until(
          [&] {
            served.update(trial.history());
            return (served.completed() >= threshold && served.read(version)) ||
                   std::all_of(workers.begin(), workers.end(),
                               [&](int w) { return trial.worker_finished(w); });
          },
          trial.settings().run_timeout);
      if (!reached) break;  // wait_for below reports the stall
      const auto& step = rollout_steps[i];
      version = trial.set_rollout_flag(step.percentage,
                                       step.test_users ? test_users : std::vector<std::string>{});
    }
    wait_for(trial, workers);
    check_exercised(trial, test_users);
    if (s.kills > 0 && !declared(trial, {"migrate.before_commit"}).empty() &&
        !any_fault_counted(trial.history(), "backend_kill", "terminated")) {
      trial.not_exercised("no planned kill met a migration transaction");
    }
  }

 private:
  /// Step i (of n) is taken once (i + 1) / (n + 1) of the requests completed:
  /// requests run before the first step and after the last.
  static int step_threshold(int i, int steps, int total) {
    return static_cast<int>(static_cast<long>(total) * (i + 1) / (steps + 1));
  }

  static void plan_http_faults(engine::Trial& trial, const FeatureFlagRolloutSettings& s) {
    if (s.http_faults) {
      fakes::FaultSpec key_update;
      key_update.method = "POST";
      key_update.path = "/key/update";
      key_update.kind = fakes::FaultKind::apply_then_500;
      key_update.trigger.probability = 0.2;
      trial.inject(trial.plan(std::make_unique<faults::HttpFault>("litellm", key_update)));
      fakes::FaultSpec customer_update;
      customer_update.method = "POST";
      customer_update.path = "/v1/customers/*";
      customer_update.kind = fakes::FaultKind::status;
      customer_update.status = 503;
      customer_update.trigger.probability = 0.1;
      trial.inject(trial.plan(std::make_unique<faults::HttpFault>("stripe", customer_update)));
    }
  }

  /// The first `kills` users whose migration reaches its commit lose their
  /// transaction there (their own session terminated while the client
  /// waits at the failpoint); the request fails and a later one migrates
  /// the user. Keyed to the story (the first migrations of the rollout,
  /// which the flag's steps decide), not to a moment or a guessed request.
  static void plan_kills(engine::Trial& trial, const FeatureFlagRolloutSettings& s,
                         std::vector<engine::WorkerOptions>& fleet) {
    const auto commit = declared(trial, {"migrate.before_commit"});
    if (commit.empty() || s.kills == 0) return;
    for (auto& worker : fleet) worker.gated.push_back(commit.front());
    auto kills = std::make_shared<std::vector<faults::BackendKill*>>();
    for (int i = 0; i < s.kills; ++i) {
      kills->push_back(&trial.plan(std::make_unique<faults::BackendKill>()));
    }
    auto killed = std::make_shared<std::set<std::string>>();
    trial.on_hit(commit.front(), [&trial, kills, killed](const engine::HitInfo& hit) {
      if (killed->size() < kills->size() && killed->insert(hit.user).second) {
        trial.inject(*(*kills)[killed->size() - 1], {hit.worker, hit.client});
      }
      return worker::HitDecision::proceed;
    });
  }

  /// What the story claims, checked in the history: every state of the
  /// flag was read by some request, users were served by both paths, the
  /// two paths were compared, and the rollback sent a user the org path had
  /// served back to the legacy path.
  static void check_exercised(engine::Trial& trial, const std::vector<std::string>& test_users) {
    std::set<std::int64_t> versions_set, versions_read;
    std::int64_t rollback_version = -1;
    std::set<std::string> org_before_rollback;
    bool rolled_back = false, compared = false;
    int org = 0, legacy = 0;
    for (const auto& e : trial.history().events()) {
      if (e.type == history::EventType::rollout && e.kind == "flag") {
        const auto version = e.value.value("version", std::int64_t{-1});
        versions_set.insert(version);
        if (e.value.value("percentage", -1) == 0 &&
            e.value.value("allow_list", nlohmann::json::array()).empty()) {
          rollback_version = version;
        }
        continue;
      }
      if (e.type != history::EventType::ok || e.kind != history::op_serve ||
          e.phase != history::phase_run) {
        continue;
      }
      const auto version = e.value.value("flag_version", std::int64_t{-1});
      versions_read.insert(version);
      const bool on_org = history::string_field(e.value, "path") == "org";
      (on_org ? org : legacy)++;
      compared = compared || e.value.value("compared", false);
      if (on_org && (rollback_version < 0 || version < rollback_version)) {
        org_before_rollback.insert(e.user);
      }
      if (!on_org && rollback_version >= 0 && version == rollback_version &&
          org_before_rollback.contains(e.user)) {
        rolled_back = true;
      }
    }
    std::vector<std::int64_t> unread;
    std::set_difference(versions_set.begin(), versions_set.end(), versions_read.begin(),
                        versions_read.end(), std::back_inserter(unread));
    if (versions_set.size() < std::size(rollout_steps)) {
      trial.not_exercised(
          fmt::format("the rollout took {} of its {} steps before the requests ran out",
                      versions_set.size(), std::size(rollout_steps)));
    } else if (!unread.empty()) {
      trial.not_exercised(
          fmt::format("no request read the flag's version {}", fmt::join(unread, ", ")));
    }
    if (org == 0 || legacy == 0) {
      trial.not_exercised(fmt::format(
          "requests took one path only ({} on the org path, {} on the legacy path)", org, legacy));
    }
    if (!compared) trial.not_exercised("no request compared the two paths");
    if (!rolled_back) {
      trial.not_exercised(fmt::format(
          "no user the org path served before the rollback was served by the legacy path under "
          "it ({} test users)",
          test_users.size()));
    }
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(FeatureFlagRollout);

}  // namespace orgquake::scenarios
