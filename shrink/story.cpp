#include "shrink/story.hpp"

#include <fmt/format.h>

#include "history/history.hpp"
#include "history/operations.hpp"

namespace orgquake::shrink {
namespace {

using history::Event;
using history::EventType;

/// User ids are UUIDs; eight characters tell the users of a small story apart.
std::string short_user(const std::string& user) {
  return user.substr(0, 8);
}

std::string who(const Event& e) {
  return fmt::format("w{}.c{}", e.worker, e.client);
}

std::string one_line(std::string text, std::size_t limit = 160) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  if (text.size() > limit) text = text.substr(0, limit - 3) + "...";
  return text;
}

/// The parameters of a fault event that say what it did, without the bulk.
std::string fault_details(const Event& e) {
  std::string out;
  for (const auto& [key, value] : e.value.items()) {
    if (key == "ttl_ms" || key == "recovery_bound_ms") continue;
    std::string shown = value.is_string() ? value.get<std::string>() : value.dump();
    if (key == "holds_lock_of" || key == "user") shown = short_user(shown);
    out += fmt::format(" {}={}", key, one_line(shown, 80));
  }
  if (!e.user.empty() && !e.value.contains("holds_lock_of")) {
    out += " user=" + short_user(e.user);
  }
  return out;
}

/// The line an event earns in the story, or "" for one it leaves out
/// (failpoints passed without a decision, Redis commands).
std::string line_of(const Event& e) {
  const std::string at = fmt::format("{:>8.3f} s  ", static_cast<double>(e.time_ns) / 1e9);
  switch (e.type) {
    case EventType::invoke:
      return at + fmt::format("{} op {} {} {}", who(e), e.op, e.kind, short_user(e.user));
    case EventType::ok: {
      std::string how;
      if (const auto path = e.value.find("path"); path != e.value.end() && path->is_string()) {
        how = fmt::format(", {} path (flag version {})", path->get<std::string>(),
                          e.value.value("flag_version", std::int64_t{-1}));
      }
      if (e.value.value("migrated_here", false)) how += ", migrated the user";
      return at + fmt::format("{} op {} ok{}", who(e), e.op, how);
    }
    case EventType::fail:
    case EventType::info:
      return at + fmt::format("{} op {} {}: {} {}", who(e), e.op, history::name_of(e.type),
                              e.value.value("error", ""),
                              one_line(e.value.value("message", ""), 120));
    case EventType::fault:
      return at + fmt::format("fault {}{}", e.kind, fault_details(e));
    case EventType::failpoint:
      if (e.value.value("action", "") != "gated") return "";
      return at + fmt::format("{} op {} at {}: {}", who(e), e.op, e.kind,
                              e.value.value("decision", "decided"));
    case EventType::rollout:
      return at + history::describe_rollout(e);
    case EventType::phase:
    case EventType::redis:
      return "";
  }
  return "";
}

}  // namespace

std::vector<std::string> story_of(const results::TrialResult& trial, const std::string& invariant,
                                  std::size_t max_events) {
  std::vector<std::string> lines;
  std::size_t told = 0, untold = 0;
  bool in_run = false;
  for (const auto& e : trial.history.events()) {
    if (e.type == EventType::phase) {
      in_run = e.kind == history::phase_run;
      continue;
    }
    if (!in_run) continue;
    const auto line = line_of(e);
    if (line.empty()) continue;
    if (told < max_events) {
      lines.push_back(line);
      ++told;
    } else {
      ++untold;
    }
  }
  if (untold > 0) lines.push_back(fmt::format("  ... and {} more events of the run phase", untold));
  for (const auto& result : trial.invariants) {
    if (result.name != invariant) continue;
    lines.push_back(fmt::format("{} {}: {}", results::name_of(result.verdict.validity), result.name,
                                one_line(result.verdict.summary, 240)));
    for (std::size_t i = 0; i < result.verdict.evidence.size() && i < 3; ++i) {
      const auto& evidence = result.verdict.evidence[i];
      lines.push_back(fmt::format("  - [{}] {}", evidence.symptom, one_line(evidence.what, 240)));
    }
  }
  return lines;
}

}  // namespace orgquake::shrink
