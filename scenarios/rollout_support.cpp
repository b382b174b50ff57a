#include "scenarios/rollout_support.hpp"

#include <algorithm>
#include <iterator>
#include <memory>
#include <set>

#include <fmt/format.h>

#include "faults/service_faults.hpp"
#include "history/operations.hpp"
#include "scenarios/scenario_support.hpp"

namespace orgquake::scenarios {
namespace {

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

bool is_rollback(const history::Event& e) {
  return e.value.value("percentage", -1) == 0 &&
         e.value.value("allow_list", nlohmann::json::array()).empty();
}

}  // namespace

void run_rollout(engine::Trial& trial, std::vector<engine::WorkerOptions> fleet,
                 const std::vector<RolloutStep>& steps) {
  nlohmann::json plan = nlohmann::json::array();
  for (const auto& step : steps) {
    plan.push_back({{"step", step.name},
                    {"percentage", step.percentage},
                    {"allow_list", step.allow_list},
                    {"after_completed", step.after_completed}});
  }
  trial.note_choice({{"kind", "rollout_steps"}, {"steps", std::move(plan)}});

  const auto workers = start_fleet(trial, std::move(fleet));
  ServedSoFar served;
  std::int64_t version = 0;  // the schema's
  for (const auto& step : steps) {
    const bool reached = trial.wait_until(
        [&] {
          served.update(trial.history());
          return (served.completed() >= step.after_completed && served.read(version)) ||
                 std::all_of(workers.begin(), workers.end(),
                             [&](int w) { return trial.worker_finished(w); });
        },
        trial.settings().run_timeout);
    if (!reached) break;  // wait_for below reports the stall
    version = trial.set_rollout_flag(step.percentage, step.allow_list);
  }
  wait_for(trial, workers);
}

void plan_rollout_http_faults(engine::Trial& trial) {
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

void plan_commit_kills(engine::Trial& trial, std::vector<engine::WorkerOptions>& fleet, int kills) {
  const auto commit = declared(trial, {"migrate.before_commit"});
  if (commit.empty() || kills <= 0) return;
  for (auto& worker : fleet) worker.gated.push_back(commit.front());
  auto planned = std::make_shared<std::vector<faults::BackendKill*>>();
  for (int i = 0; i < kills; ++i) {
    planned->push_back(&trial.plan(std::make_unique<faults::BackendKill>()));
  }
  auto killed = std::make_shared<std::set<std::string>>();
  trial.on_hit(commit.front(), [&trial, planned, killed](const engine::HitInfo& hit) {
    if (killed->size() < planned->size() && killed->insert(hit.user).second) {
      trial.inject(*(*planned)[killed->size() - 1], {hit.worker, hit.client});
    }
    return worker::HitDecision::proceed;  // the commit then fails on its dead session
  });
}

RolloutStory rollout_story(const history::History& history) {
  RolloutStory story;
  std::set<std::int64_t> versions_set, versions_read;
  std::int64_t rollback_version = -1;
  // Users the org path served before the rollback in force, and those sent back.
  std::set<std::string> org_served, sent_back;
  for (const auto& e : history.events()) {
    if (e.type == history::EventType::rollout && e.kind == "flag") {
      const auto version = e.value.value("version", std::int64_t{-1});
      versions_set.insert(version);
      if (is_rollback(e)) rollback_version = version;
      continue;
    }
    if (e.type == history::EventType::fault && e.kind == "backend_kill") {
      story.kill_met = story.kill_met || e.value.value("terminated", 0) > 0;
      continue;
    }
    if (e.type != history::EventType::ok || e.kind != history::op_serve ||
        e.phase != history::phase_run) {
      continue;
    }
    const auto version = e.value.value("flag_version", std::int64_t{-1});
    versions_read.insert(version);
    const bool on_org = history::string_field(e.value, "path") == "org";
    const bool compared = e.value.value("compared", false);
    (on_org ? story.org : story.legacy)++;
    story.compared += compared;
    story.org_uncompared += on_org && !compared;
    if (on_org && (rollback_version < 0 || version < rollback_version)) {
      org_served.insert(e.user);
    }
    if (!on_org && rollback_version >= 0 && version == rollback_version &&
        org_served.contains(e.user)) {
      sent_back.insert(e.user);
    }
  }
  std::set_difference(versions_set.begin(), versions_set.end(), versions_read.begin(),
                      versions_read.end(), std::back_inserter(story.unread));
  story.steps_taken = static_cast<int>(versions_set.size());
  story.rolled_back_users = static_cast<int>(sent_back.size());
  return story;
}

void require_rollout_exercised(engine::Trial& trial, const RolloutStory& story, std::size_t steps,
                               bool rollback) {
  if (static_cast<std::size_t>(story.steps_taken) < steps) {
    trial.not_exercised(
        fmt::format("the rollout took {} of its {} steps before the requests ran out",
                    story.steps_taken, steps));
  } else if (!story.unread.empty()) {
    trial.not_exercised(
        fmt::format("no request read the flag's version {}", fmt::join(story.unread, ", ")));
  }
  if (story.org == 0 || story.legacy == 0) {
    trial.not_exercised(
        fmt::format("requests took one path only ({} on the org path, {} on the legacy path)",
                    story.org, story.legacy));
  }
  if (story.compared == 0) trial.not_exercised("no request compared the two paths");
  if (rollback && story.rolled_back_users == 0) {
    trial.not_exercised(
        "no user the org path served before the rollback was served by the legacy path under it");
  }
}

}  // namespace orgquake::scenarios
