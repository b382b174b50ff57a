#include "faults/fault_plan.hpp"

#include <algorithm>
#include <stdexcept>

#include <fmt/format.h>

#include "core/interrupt.hpp"

namespace orgquake::faults {

Fault& FaultPlan::add(std::unique_ptr<Fault> fault) {
  const auto& timing = fault->timing;
  if (timing.timed() && !timing.at_failpoint && fault->needs_site()) {
    throw std::logic_error(std::string(fault->kind()) + " acts on a worker and cannot be timed");
  }
  if (timing.at_failpoint && !timing.at_operation) {
    throw std::logic_error(std::string(fault->kind()) +
                           " is keyed to a failpoint but to no operation");
  }
  if (timing.at_failpoint && timing.hit < 1) {
    throw std::logic_error(
        fmt::format("{}: hit numbers count from 1, not {}", fault->kind(), timing.hit));
  }
  if (fault->timing.at && fault->timing.at_operation) {
    throw std::logic_error(std::string(fault->kind()) +
                           " is timed both on the clock and by an operation");
  }
  Planned planned;
  planned.index = static_cast<int>(entries_.size());
  entries_.push_back(fault->plan());
  if (acting_ && acting_->count(planned.index) == 0) {
    planned.left_out = true;
    entries_.back()["left_out"] = true;
  }
  planned.fault = std::move(fault);
  faults_.push_back(std::move(planned));
  return *faults_.back().fault;
}

nlohmann::json FaultPlan::entries() const {
  nlohmann::json all = entries_;
  for (const auto& entry : trailing_) all.push_back(entry);
  return all;
}

FaultPlan::Planned& FaultPlan::find(Fault& fault) {
  for (auto& planned : faults_) {
    if (planned.fault.get() == &fault) return planned;
  }
  throw std::logic_error(std::string(fault.kind()) +
                         " was not planned: plan a fault before it acts");
}

const FaultPlan::Planned& FaultPlan::find(const Fault& fault) const {
  return const_cast<FaultPlan*>(this)->find(const_cast<Fault&>(fault));
}

bool FaultPlan::acted(const Fault& fault) const {
  const Planned& p = find(fault);
  return p.injected && !p.left_out;
}

bool FaultPlan::inject(Fault& fault, FaultTarget& target, const FaultSite& site,
                       Clock::time_point now) {
  Planned& p = find(fault);
  if (p.injected) {
    throw std::logic_error(
        fmt::format("fault {} of the plan ({}) injected twice", p.index, fault.kind()));
  }
  p.injected = true;
  p.injected_at = now;
  if (p.left_out) {
    p.healed = true;
    return false;
  }
  try {
    fault.inject(target, site);
  } catch (const Interrupted&) {
    throw;
  } catch (const std::runtime_error& e) {
    // Which entry of the plan could not act, so that the line in the
    // results leads to it.
    throw std::runtime_error(
        fmt::format("fault {} of the plan ({}): {}", p.index, fault.kind(), e.what()));
  }
  if (!fault.lasting()) p.healed = true;
  return true;
}

void FaultPlan::heal(Fault& fault, FaultTarget& target) {
  Planned& p = find(fault);
  if (!p.injected || p.healed) return;
  p.healed = true;
  fault.heal(target);
}

void FaultPlan::start_clock(Clock::time_point now) {
  held_ = false;
  if (!clock_) clock_ = now;
}

std::optional<FaultPlan::Clock::time_point> FaultPlan::fire_due(FaultTarget& target,
                                                                Clock::time_point now) {
  if (!clock_) return std::nullopt;
  std::optional<Clock::time_point> next;
  const auto soonest = [&](Clock::time_point at) { next = next ? std::min(*next, at) : at; };
  for (auto& p : faults_) {
    const auto& timing = p.fault->timing;
    if (!timing.timed()) continue;
    if (!p.injected && timing.at_operation) continue;  // waits for its operation
    if (!p.injected) {
      const auto due = *clock_ + *timing.at;
      if (now < due) {
        soonest(due);
        continue;
      }
      inject(*p.fault, target, {}, now);
    }
    if (!p.healed && timing.lasting) {
      const auto due = p.injected_at + *timing.lasting;
      if (now < due) {
        soonest(due);
        continue;
      }
      heal(*p.fault, target);
    }
  }
  return next;
}

void FaultPlan::operation_invoked(std::int64_t op, FaultTarget& target, Clock::time_point now) {
  for (auto& p : faults_) {
    const auto& timing = p.fault->timing;
    if (p.injected || timing.at_operation != op || timing.at_failpoint) continue;
    inject(*p.fault, target, {}, now);
  }
}

std::set<std::string> FaultPlan::failpoints_awaited_by(std::int64_t op) const {
  std::set<std::string> failpoints;
  for (const auto& p : faults_) {
    const auto& timing = p.fault->timing;
    if (!p.left_out && timing.at_operation == op && timing.at_failpoint) {
      failpoints.insert(*timing.at_failpoint);
    }
  }
  return failpoints;
}

std::vector<int> FaultPlan::failpoint_reached(std::int64_t op, const std::string& failpoint,
                                              int hit, FaultTarget& target, const FaultSite& site,
                                              Clock::time_point now) {
  std::vector<int> acted;
  for (auto& p : faults_) {
    const auto& timing = p.fault->timing;
    if (p.injected || timing.at_operation != op || timing.at_failpoint != failpoint ||
        timing.hit != hit) {
      continue;
    }
    if (inject(*p.fault, target, site, now)) acted.push_back(p.index);
  }
  return acted;
}

bool FaultPlan::timed_pending() const {
  return std::any_of(faults_.begin(), faults_.end(), [](const Planned& p) {
    const auto& timing = p.fault->timing;
    if (timing.at && !p.injected) return true;
    return timing.timed() && p.injected && !p.healed && timing.lasting.has_value();
  });
}

void FaultPlan::heal_all(FaultTarget& target) {
  for (auto it = faults_.rbegin(); it != faults_.rend(); ++it) heal(*it->fault, target);
}

}  // namespace orgquake::faults
