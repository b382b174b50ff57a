#include "history/history.hpp"

#include <algorithm>
#include <stdexcept>
#include <unordered_map>

namespace orgquake::history {

const char* name_of(EventType type) {
  switch (type) {
    case EventType::invoke:
      return "invoke";
    case EventType::ok:
      return "ok";
    case EventType::fail:
      return "fail";
    case EventType::info:
      return "info";
    case EventType::fault:
      return "fault";
    case EventType::failpoint:
      return "failpoint";
    case EventType::phase:
      return "phase";
    case EventType::redis:
      return "redis";
    case EventType::rollout:
      return "rollout";
  }
  return "?";
}

std::optional<EventType> event_type_from(std::string_view name) {
  for (auto type :
       {EventType::invoke, EventType::ok, EventType::fail, EventType::info, EventType::fault,
        EventType::failpoint, EventType::phase, EventType::redis, EventType::rollout}) {
    if (name == name_of(type)) return type;
  }
  return std::nullopt;
}

nlohmann::json Event::to_json() const {
  nlohmann::json json = {{"type", name_of(type)}, {"time_ns", time_ns}, {"worker", worker}};
  if (client >= 0) json["client"] = client;
  if (op >= 0) json["op"] = op;
  if (!kind.empty()) json["kind"] = kind;
  if (!user.empty()) json["user"] = user;
  if (!phase.empty()) json["phase"] = phase;
  if (!value.empty()) json["value"] = value;
  return json;
}

Event Event::from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw std::invalid_argument("a history event must be a JSON object");
  Event event;
  const auto type_name = json.value("type", std::string());
  const auto type = event_type_from(type_name);
  if (!type) throw std::invalid_argument("history event: unknown type '" + type_name + "'");
  event.type = *type;
  try {
    event.time_ns = json.at("time_ns").get<std::int64_t>();
    event.worker = json.value("worker", controller);
    event.client = json.value("client", -1);
    event.op = json.value("op", std::int64_t{-1});
    event.kind = json.value("kind", std::string());
    event.user = json.value("user", std::string());
    event.phase = json.value("phase", std::string());
    event.value = json.value("value", nlohmann::json::object());
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(std::string("history event: ") + e.what());
  }
  return event;
}

void History::add(Event event) {
  release(event.time_ns);
  events_.push_back(std::move(event));
}

void History::hold(Event marker) {
  release(marker.time_ns);
  held_ = std::move(marker);
}

void History::release(std::int64_t time_ns) {
  if (!held_) return;
  // Never before it was announced: an event of earlier time (a process's
  // own clock, read late) stays before the marker.
  held_->time_ns = std::max(held_->time_ns, time_ns);
  events_.push_back(std::move(*held_));
  held_.reset();
}

void History::finish() {
  if (held_) release(held_->time_ns);  // nothing happened after it
  std::stable_sort(events_.begin(), events_.end(),
                   [](const Event& a, const Event& b) { return a.time_ns < b.time_ns; });
}

}  // namespace orgquake::history
