#include "engine/failpoint_gate.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace orgquake::engine {

using worker::HitDecision;

void FailpointGate::order(const std::string& before, const std::string& after) {
  orderings_.push_back({parse_step(before), parse_step(after), before});
}

void FailpointGate::interleave(const std::vector<HappensBefore>& pairs) {
  for (const auto& pair : pairs) {
    order(pair.before, pair.after);
    interleaved_.insert(orderings_.back().before.failpoint);
    interleaved_.insert(orderings_.back().after.failpoint);
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

bool FailpointGate::happened(const InterleavingStep& step) const {
  if (!step.op) return fired(step.failpoint) > 0;
  return ended_.contains(*step.op) || hits_of_operation_.contains({*step.op, step.failpoint});
}

bool FailpointGate::may_fire(const HitInfo& hit) const {
  return std::all_of(orderings_.begin(), orderings_.end(), [&](const Ordering& o) {
    const bool holds_this =
        o.after.failpoint == hit.failpoint && (!o.after.op || *o.after.op == hit.op);
    return !holds_this || happened(o.before);
  });
}

void FailpointGate::offer(GatedHit hit) {
  if (!may_fire(hit.info)) {
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
  if (nth == 1) {
    // A step of this operation that others wait for: kept by what it is.
    const bool awaited = std::any_of(orderings_.begin(), orderings_.end(), [&](const Ordering& o) {
      return o.before.op == hit.info.op && o.before.failpoint == hit.info.failpoint;
    });
    if (awaited) {
      decisions_.push_back(
          fmt::format("interleaving: {}@{} fired", hit.info.failpoint, hit.info.op));
    }
  }
  sink_(hit, decision);
}

void FailpointGate::release_held() {
  // Deciding one firing may free others (its point was some pair's first):
  // start over after each, until a pass frees nothing.
  for (bool progress = true; progress;) {
    progress = false;
    for (std::size_t i = 0; i < held_.size(); ++i) {
      if (!may_fire(held_[i].info)) continue;
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

void FailpointGate::operation_ended(std::int64_t op) {
  if (!ended_.insert(op).second) return;
  std::set<std::string> unreached;
  for (const auto& o : orderings_) {
    if (o.before.op == op && !hits_of_operation_.contains({op, o.before.failpoint})) {
      unreached.insert(o.before.failpoint);
    }
  }
  for (const auto& failpoint : unreached) {
    decisions_.push_back(fmt::format("interleaving: {}@{} not reached", failpoint, op));
  }
  if (!unreached.empty()) release_held();
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
    for (const auto& o : orderings_) {
      if (o.after.failpoint == failpoint && !happened(o.before))
        waiting_for.push_back(o.before_text);
    }
    summary += fmt::format("{}{} firing{} of {} wait{} for {}", summary.empty() ? "" : "; ", count,
                           count == 1 ? "" : "s", failpoint, count == 1 ? "s" : "",
                           fmt::join(waiting_for, " and "));
  }
  return summary;
}

}  // namespace orgquake::engine
