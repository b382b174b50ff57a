// The interleaving in which a stolen lock shows. Worker A reaches the commit
// of a user's migration holding the lock and is stopped past its lease.
// Worker B then looks the user up, takes the lock and is stopped just
// inside it. A resumes: its commit must be refused (fencing) and its
// release must leave B's lock alone. With B still inside, C looks the user
// up with a short bound on its wait: it must wait, then give up, while B's
// lease lasts. Finally B resumes and migrates.
//
// A release by plain DEL deletes B's lock and lets C in beside B
// (lock_mutual_exclusion); a wait without a bound keeps C queued until B's
// lease expires (lock_wait_bounded).
#include <chrono>

#include <fmt/format.h>

#include "engine/scenario.hpp"
#include "faults/worker_faults.hpp"
#include "history/history.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

struct StolenLockSettings {
  std::chrono::milliseconds overstay;
  std::chrono::milliseconds waiter_max_wait;
};

constexpr const char* stale_at = "migrate.before_commit";
constexpr const char* inside_at = "lookup.after_lock_acquire";

class StolenLock : public engine::ScenarioOf<StolenLockSettings> {
 public:
  std::string_view name() const override { return "stolen_lock"; }
  std::string_view description() const override {
    return "a stale holder resumes while a second holder is inside the lock, and a third "
           "request waits";
  }
  StolenLockSettings read(engine::OptionReader& o) const override {
    return {o.duration("overstay_ms", 400, 0, 600000,
                       "how long past the TTL the first holder stays stopped"),
            o.duration("waiter_max_wait_ms", 0, 0, 600000,
                       "the third request's bound on its lock wait (0: an eighth of the TTL)")};
  }

  void run(engine::Trial& trial, const StolenLockSettings& s) const override {
    trial.require_failpoint(stale_at);
    trial.require_failpoint(inside_at);
    const auto user = trial.choose_users(1, "stolen")[0];
    const auto ttl = trial.lock_ttl();
    const auto waiter_bound =
        s.waiter_max_wait.count() > 0 ? s.waiter_max_wait : std::max(ttl / 8, milliseconds(1));
    auto& stale =
        trial.plan(std::make_unique<faults::WorkerPause>(stale_at, user, ttl + s.overstay));
    auto& inside = trial.plan(std::make_unique<faults::WorkerPause>(inside_at, user));
    trial.note_choice(
        {{"kind", "stolen_lock"}, {"user", user}, {"waiter_max_wait_ms", waiter_bound.count()}});
    trial.on_hit(stale_at, [&](const engine::HitInfo& hit) {
      trial.inject(stale, {hit.worker});
      return worker::HitDecision::proceed;
    });
    trial.on_hit(inside_at, [&](const engine::HitInfo& hit) {
      trial.inject(inside, {hit.worker});
      return worker::HitDecision::proceed;
    });
    const auto timeout = trial.settings().run_timeout;

    // All three workers start (and connect) before the story begins, each
    // told to go at its moment: an interpreter's start-up (a second or more
    // for Python under load) must not stretch the story past B's lease.
    engine::WorkerOptions first;  // A: holds the lock at its commit, stopped past its lease
    first.gated = {stale_at};
    first.clients.push_back({{trial.operation(history::op_lookup, user)}, 0});
    engine::WorkerOptions second;  // B: takes the expired lock, stopped just inside it
    second.gated = {inside_at};
    second.clients.push_back({{trial.operation(history::op_lookup, user)}, 0});
    engine::WorkerOptions third;  // C: a request for the user while B holds the lock
    third.lock_max_wait = waiter_bound;
    third.clients.push_back({{trial.operation(history::op_lookup, user)}, 0});
    std::vector<engine::WorkerOptions> fleet;
    fleet.push_back(std::move(first));
    fleet.push_back(std::move(second));
    fleet.push_back(std::move(third));
    const auto workers = trial.start_workers(std::move(fleet));
    const int holder_a = workers[0], holder_b = workers[1], waiter = workers[2];

    trial.go({holder_a});
    reach(trial, stale_at, holder_a, user, timeout);
    trial.sleep(*stale.stopped_for());

    trial.go({holder_b});
    reach(trial, inside_at, holder_b, user, timeout);
    // B's lease was granted no later than this; it ends a TTL after.
    const auto b_lease_ends = std::chrono::steady_clock::now() + ttl;

    // A resumes with B inside: its stale commit and its release.
    trial.heal(stale);
    wait_for(trial, {holder_a});

    if (std::chrono::steady_clock::now() + waiter_bound >= b_lease_ends) {
      trial.not_exercised(fmt::format(
          "the stale holder took too long to finish: the third request would have come within "
          "{} ms of the end of the second holder's lease",
          waiter_bound.count()));
    }
    trial.go({waiter});
    wait_for(trial, {waiter});
    if (trial.worker_finished(holder_b)) {
      trial.not_exercised(
          "the second holder was no longer inside the lock when the third "
          "request came");
    }
    trial.heal(inside);
    wait_for(trial, {holder_b});
  }

 private:
  using milliseconds = std::chrono::milliseconds;

  /// Waits until `worker` fired `failpoint`; throws if its lookup ended first,
  /// saying how it ended.
  static void reach(engine::Trial& trial, const char* failpoint, int worker,
                    const std::string& user, milliseconds timeout) {
    if (trial.wait_until(
            [&] { return trial.fired(failpoint) > 0 || trial.worker_finished(worker); }, timeout) &&
        trial.fired(failpoint) > 0) {
      return;
    }
    throw std::runtime_error(fmt::format("worker {}'s lookup of {} {} before {}", worker, user,
                                         how_it_ended(trial, worker, timeout), failpoint));
  }

  static std::string how_it_ended(engine::Trial& trial, int worker, milliseconds timeout) {
    const auto& events = trial.history().events();
    for (auto e = events.rbegin(); e != events.rend(); ++e) {
      if (e->worker != worker) continue;
      if (e->type == history::EventType::ok) return "succeeded";
      if (e->type == history::EventType::fail || e->type == history::EventType::info) {
        return fmt::format("ended in {} ({})", e->value.value("error", "an error"),
                           e->value.value("message", ""));
      }
    }
    if (trial.worker_finished(worker)) return "ended (its worker exited)";
    return fmt::format("did not get there within {} ms", timeout.count());
  }
};

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(StolenLock);

}  // namespace orgquake::scenarios
