// All faults at once, every choice drawn from the seed: first a few lock
// holders killed or stopped inside the locked section (one after another,
// so their order replays exactly), then duplicate lookups racing under
// HTTP faults of random kinds and rates, backends killed inside migration
// transactions, and, with the embedded Redis, an outage. Every fault is
// keyed to a lookup (its start, or its step at a failpoint), none to a
// moment, so that a shrunk replay meets each where the failing run did.
#include <memory>

#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/service_faults.hpp"
#include "faults/worker_faults.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

const std::vector<std::string>& locked_points() {
  static const std::vector<std::string> points = {"lock.after_acquire",
                                                  "lookup.after_lock_acquire",
                                                  "migrate.after_journal",
                                                  "migrate.after_litellm_team_new",
                                                  "migrate.after_litellm_key_move",
                                                  "migrate.after_stripe_customer_update",
                                                  "migrate.after_org_insert",
                                                  "migrate.before_commit"};
  return points;
}

const std::vector<std::pair<std::string, std::string>>& routes() {
  static const std::vector<std::pair<std::string, std::string>> all = {
      {"litellm", "/team/new"},      {"litellm", "/team/member_add"},
      {"litellm", "/key/update"},    {"litellm", "/user/update"},
      {"stripe", "/v1/customers/*"}, {"stripe", "/v1/subscriptions/*"}};
  return all;
}

struct RandomMixSettings {
  int users, workers, clients, holder_faults;
  std::chrono::milliseconds http_timeout;
  bool redis_outage;
};

class RandomMix : public engine::ScenarioOf<RandomMixSettings> {
 public:
  std::string_view name() const override { return "random_mix"; }
  std::string_view description() const override {
    return "every kind of fault, kinds, rates and moments drawn from the seed";
  }
  RandomMixSettings read(engine::OptionReader& o) const override {
    return {o.common_count("users"),
            o.common_count("workers"),
            o.common_count("clients"),
            o.count("holder_faults", 2, 0, 8, "lock holders killed or stopped in the first part"),
            o.duration("http_timeout_ms", 500, 50, 60000,
                       "how long an API call may take before it times out"),
            o.flag("redis_outage", true, "include a Redis outage (embedded Redis only)")};
  }

  void run(engine::Trial& trial, const RandomMixSettings& s) const override {
    Rng rng = trial.rng("mix");
    const auto users = trial.choose_users(s.users + 8, "users");
    const auto holder_faults =
        std::min<std::size_t>(static_cast<std::size_t>(s.holder_faults), users.size());

    // The storm's faults count from the storm's start, not the holders'.
    trial.hold_fault_clock();
    // Part one: holders, with their own users so that nothing else reaches them.
    struct HolderFault {
      std::string user, failpoint;
      faults::WorkerCrash* crash = nullptr;  ///< one of the two
      faults::WorkerPause* pause = nullptr;
    };
    // Only where the migrator under test has a failpoint: one without a
    // journal (say) cannot be stopped after writing it. The reference declares
    // them all, so its draws do not change.
    std::vector<std::string> points;
    for (const auto& point : locked_points()) {
      if (trial.migrator().declares(point)) points.push_back(point);
    }
    std::vector<HolderFault> holders;
    for (std::size_t i = 0; i < holder_faults && !points.empty(); ++i) {
      HolderFault h{users[i], points[rng.below(points.size())]};
      if (rng.chance(0.5)) {
        h.crash = &trial.plan(std::make_unique<faults::WorkerCrash>(h.failpoint, h.user));
      } else {
        h.pause = &trial.plan(std::make_unique<faults::WorkerPause>(h.failpoint, h.user));
      }
      holders.push_back(h);
    }
    // Part two: the storm.
    const std::vector<std::string> crowd(users.begin() + static_cast<long>(holder_faults),
                                         users.end());
    std::vector<faults::HttpFault*> http;
    for (const auto& [service, path] : routes()) {
      if (!rng.chance(0.6)) continue;
      static const fakes::FaultKind kinds[] = {
          fakes::FaultKind::status, fakes::FaultKind::reset, fakes::FaultKind::apply_then_reset,
          fakes::FaultKind::apply_then_500, fakes::FaultKind::apply_then_hold};
      fakes::FaultSpec spec;
      spec.method = "POST";
      spec.path = path;
      spec.kind = kinds[rng.below(std::size(kinds))];
      spec.status = 503;
      spec.trigger.probability = 0.05 + 0.25 * rng.unit();
      spec.trigger.times = 1 + rng.below(3);
      http.push_back(&trial.plan(std::make_unique<faults::HttpFault>(service, spec)));
    }
    // The storm's lookups, planned now so that its faults can be keyed to them.
    std::vector<engine::WorkerOptions> crowd_workers;
    for (int w = 0; w < s.workers; ++w) {
      engine::WorkerOptions options;
      options.http_request_timeout = s.http_timeout;
      for (int c = 0; c < std::max<int>(1, s.clients / 2); ++c) {
        worker::ClientPlan client;
        for (int r = 0; r < 3; ++r) {
          for (std::size_t i = 0; i < crowd.size(); ++i) {
            client.ops.push_back(
                trial.operation(history::op_lookup, crowd[(c + i) % crowd.size()]));
          }
        }
        client.start_delay_ms = c * 2;
        options.clients.push_back(std::move(client));
      }
      crowd_workers.push_back(std::move(options));
    }
    // Backend kills at a step inside a user's migration transaction, keyed
    // to the lookups likeliest to migrate it (postgres_backend_kill's way):
    // every worker's clients walk the crowd alike, so as many lookups as
    // workers tie for first.
    const auto kill_points = declared(trial, {"migrate.after_org_insert", "migrate.before_commit"});
    for (std::uint64_t i = 0, n = rng.below(4); i < n; ++i) {
      const auto& user = crowd[rng.below(crowd.size())];
      const auto step = rng.below(2);
      if (kill_points.empty()) continue;
      for (const auto op :
           first_lookups_of(crowd_workers, user, static_cast<std::size_t>(s.workers) + 1)) {
        auto kill = std::make_unique<faults::BackendKill>();
        kill->timing.at_operation = op;
        kill->timing.at_failpoint = kill_points[step % kill_points.size()];
        trial.plan(std::move(kill));
      }
    }
    // Drawn whatever the Redis, so that the rest of the plan stays the same;
    // the harness never stops an external Redis. Keyed to a lookup of the
    // storm's first client, a few lookups in.
    const bool outage = rng.chance(0.5) && s.redis_outage && trial.redis_embedded();
    const auto& first_client = crowd_workers.front().clients.front().ops;
    const auto outage_at = std::min<std::size_t>(2 + rng.below(10), first_client.size() - 1);
    if (outage) {
      auto redis_down = std::make_unique<faults::RedisOutage>();
      redis_down->timing.at_operation = first_client[outage_at].op;
      redis_down->timing.lasting = std::chrono::milliseconds(300);
      trial.plan(std::move(redis_down));
    }

    const auto timeout = trial.settings().run_timeout;
    const auto recovery = trial.lock_ttl() + trial.settings().recovery_bound;
    for (const auto& h : holders) {
      // Two holders may draw one failpoint, and one lookup may pass a
      // failpoint more than once (a key move per key): count from here, and
      // act on the first firing only, so that a resumed holder runs on.
      const int fired_before = trial.fired(h.failpoint);
      auto acted = std::make_shared<bool>(false);
      trial.on_hit(h.failpoint, [&trial, h, acted](const engine::HitInfo& hit) {
        if (*acted) return worker::HitDecision::proceed;
        *acted = true;
        if (h.crash != nullptr) {
          return trial.inject(*h.crash, {hit.worker}) ? worker::HitDecision::crash
                                                      : worker::HitDecision::proceed;
        }
        trial.inject(*h.pause, {hit.worker});
        return worker::HitDecision::proceed;
      });
      engine::WorkerOptions holder;
      holder.gated = {h.failpoint};
      holder.clients.push_back({{trial.operation(history::op_lookup, h.user)}, 0});
      const int worker = trial.run_worker(std::move(holder));
      if (!trial.wait_until(
              [&] {
                return trial.fired(h.failpoint) > fired_before || trial.worker_finished(worker);
              },
              timeout)) {
        throw std::runtime_error("no progress at " + h.failpoint);
      }
      if (trial.fired(h.failpoint) == fired_before) trial.skip(h.failpoint);
      wait_for(trial, {lookup_once(trial, {h.user}, recovery)});
      if (h.pause != nullptr) trial.heal(*h.pause);
      wait_for(trial, {worker});
      trial.on_hit(h.failpoint, nullptr);
    }

    for (auto* fault : http) trial.inject(*fault);
    const auto fleet = trial.start_workers(std::move(crowd_workers));
    trial.start_fault_clock();  // the stacked faults, from here
    trial.go(fleet);
    wait_for(trial, fleet);
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(RandomMix);

}  // namespace orgquake::scenarios
