#include "engine/failpoint_gate.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace orgquake::engine {

using worker::HitDecision;

void FailpointGate::order(const std::string& before, const std::string& after) {
  orderings_.emplace_back(before, after);
}

void FailpointGate::interleave(const std::vector<HappensBefore>& pairs) {
  for (const auto& pair : pairs) {
    order(pair.before, pair.after);
    interleaved_.insert(pair.before);
    interleaved_.insert(pair.after);
  }
}

void FailpointGate::on_hit(const std::string& failpoint, HitHandler handler) {
  if (handler) {
    handlers_[failpoint] = std::move(handler);
  } else {
    handlers_.erase(failpoint);
  }
}

int FailpointGate::fired(const std::string& failpoint) const {
  const auto it = fired_.find(failpoint);
  return it == fired_.end() ? 0 : it->second;
}

bool FailpointGate::may_fire(const std::string& failpoint) const {
  return std::all_of(orderings_.begin(), orderings_.end(), [&](const auto& pair) {
    return pair.second != failpoint || fired(pair.first) > 0;
  });
}

void FailpointGate::offer(GatedHit hit) {
  if (!may_fire(hit.info.failpoint)) {
    held_.push_back(std::move(hit));
    return;
  }
  decide(std::move(hit));
  release_held();
}

void FailpointGate::decide(GatedHit hit) {
  // Keyed by what the decision acts on, never by when: the worker's client,
  // its operation, the failpoint and how often that operation has reached it.
  const int nth = ++hits_of_operation_[{hit.info.op, hit.info.failpoint}];
  // The observer and the handler may act on the trial (kill this very
  // worker, whose held firings forget_worker then drops): they are called
  // before any other state of this firing changes, and nothing here holds an
  // iterator across them.
  const std::string observed = observer_ ? observer_(hit.info, nth) : std::string();
  HitDecision decision = HitDecision::proceed;
  if (hit.scenario_gated) {
    if (const auto it = handlers_.find(hit.info.failpoint); it != handlers_.end()) {
      const HitHandler handler = it->second;  // a handler may replace itself
      decision = handler(hit.info);
    }
  }
  const bool first = fired_[hit.info.failpoint]++ == 0;
  if (hit.scenario_gated || !observed.empty()) {
    decisions_.push_back(fmt::format("w{}.c{} op {} {}#{} -> {}{}", hit.info.worker,
                                     hit.info.client, hit.info.op, hit.info.failpoint, nth,
                                     observed.empty() ? "" : observed + ", ",
                                     worker::name_of(decision)));
  } else if (first && interleaved_.contains(hit.info.failpoint)) {
    decisions_.push_back(fmt::format("interleaving: {} first fired", hit.info.failpoint));
  }
  sink_(hit, decision);
}

void FailpointGate::release_held() {
  // Deciding one firing may free others (its point was some pair's first):
  // start over after each, until a pass frees nothing.
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t i = 0; i < held_.size(); ++i) {
      if (!may_fire(held_[i].info.failpoint)) continue;
      GatedHit hit = std::move(held_[i]);
      held_.erase(held_.begin() + static_cast<std::ptrdiff_t>(i));
      decide(std::move(hit));
      progress = true;
      break;
    }
  }
}

void FailpointGate::skip(const std::string& failpoint) {
  ++fired_[failpoint];
  decisions_.push_back(fmt::format("{} -> not reached", failpoint));
  release_held();
}

void FailpointGate::forget_worker(int worker) {
  std::erase_if(held_, [&](const GatedHit& hit) { return hit.info.worker == worker; });
}

void FailpointGate::open() {
  handlers_.clear();
  observer_ = nullptr;
  orderings_.clear();
  interleaved_.clear();
  release_held();
}

std::string FailpointGate::held_summary() const {
  std::map<std::string, int> held;
  for (const auto& hit : held_) ++held[hit.info.failpoint];
  std::string summary;
  for (const auto& [failpoint, count] : held) {
    std::vector<std::string> waiting_for;
    for (const auto& [before, after] : orderings_) {
      if (after == failpoint && fired(before) == 0) waiting_for.push_back(before);
    }
    summary += fmt::format("{}{} firing{} of {} wait{} for {}", summary.empty() ? "" : "; ", count,
                           count == 1 ? "" : "s", failpoint, count == 1 ? "s" : "",
                           fmt::join(waiting_for, " and "));
  }
  return summary;
}

}  // namespace orgquake::engine
