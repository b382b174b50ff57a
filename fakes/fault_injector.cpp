#include "fakes/fault_injector.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/hash.hpp"

namespace orgquake::fakes {
namespace {

struct KindName {
  FaultKind kind;
  std::string_view name;
};
constexpr KindName kKindNames[] = {
    {FaultKind::status, "status"},
    {FaultKind::delay, "delay"},
    {FaultKind::hold, "hold"},
    {FaultKind::reset, "reset"},
    {FaultKind::apply_then_reset, "apply_then_reset"},
    {FaultKind::apply_then_500, "apply_then_500"},
    {FaultKind::apply_then_hold, "apply_then_hold"},
    {FaultKind::search_lag, "search_lag"},
};

bool glob(std::string_view pattern, std::string_view text) {
  while (!pattern.empty()) {
    if (pattern.substr(0, 2) == "**") {
      const std::string_view rest = pattern.substr(2);
      for (std::size_t i = 0; i <= text.size(); ++i) {
        if (glob(rest, text.substr(i))) return true;
      }
      return false;
    }
    if (pattern.front() == '*') {
      const std::string_view rest = pattern.substr(1);
      for (std::size_t i = 0; i <= text.size(); ++i) {
        if (glob(rest, text.substr(i))) return true;
        if (i < text.size() && text[i] == '/') return false;
      }
      return false;
    }
    if (text.empty() || pattern.front() != text.front()) return false;
    pattern.remove_prefix(1);
    text.remove_prefix(1);
  }
  return text.empty();
}

template <class T>
T field(const nlohmann::json& json, const char* name, T fallback) {
  const auto it = json.find(name);
  if (it == json.end() || it->is_null()) return fallback;
  try {
    return it->get<T>();
  } catch (const nlohmann::json::exception&) {
    throw UsageError(
        fmt::format("fault spec: field '{}' has the wrong type ({})", name, it->type_name()));
  }
}

}  // namespace

std::string_view to_string(FaultKind kind) {
  for (const auto& entry : kKindNames) {
    if (entry.kind == kind) return entry.name;
  }
  return "unknown";
}

FaultKind fault_kind_from_string(std::string_view name) {
  for (const auto& entry : kKindNames) {
    if (entry.name == name) return entry.kind;
  }
  throw UsageError(fmt::format(
      "fault spec: unknown kind '{}' (use status, delay, hold, reset, apply_then_reset, "
      "apply_then_500, apply_then_hold or search_lag)",
      name));
}

bool path_matches(std::string_view pattern, std::string_view path) {
  return glob(pattern, path);
}

FaultSpec fault_spec_from_json(const nlohmann::json& json) {
  if (!json.is_object()) throw UsageError("fault spec: expected a JSON object");
  static const char* const known[] = {"method",      "path",   "kind",     "status",
                                      "delay_ms",    "lag_ms", "first",    "every",
                                      "probability", "times",  "operation"};
  for (const auto& [key, value] : json.items()) {
    bool ok = false;
    for (const char* name : known) ok = ok || key == name;
    if (!ok) throw UsageError(fmt::format("fault spec: unknown field '{}'", key));
  }
  FaultSpec spec;
  spec.method = field<std::string>(json, "method", "*");
  spec.path = field<std::string>(json, "path", "**");
  if (!json.contains("kind")) throw UsageError("fault spec: field 'kind' is required");
  spec.kind = fault_kind_from_string(field<std::string>(json, "kind", ""));
  spec.status = field<int>(json, "status", 503);
  spec.delay_ms = field<std::int64_t>(json, "delay_ms", 0);
  spec.lag_ms = field<std::int64_t>(json, "lag_ms", 0);
  spec.trigger.first = field<std::uint64_t>(json, "first", 0);
  spec.trigger.every = field<std::uint64_t>(json, "every", 0);
  spec.trigger.probability = field<double>(json, "probability", 1.0);
  spec.trigger.times = field<std::uint64_t>(json, "times", 0);
  if (json.contains("operation") && !json.at("operation").is_null()) {
    const auto& op = json.at("operation");
    if (!op.is_number_integer() || op.get<std::int64_t>() < 0) {
      throw UsageError(fmt::format(
          "fault spec: field 'operation' is an operation id (a non-negative integer), not {}",
          op.dump()));
    }
    spec.operation = op.get<std::int64_t>();
  }
  return spec;
}

nlohmann::json to_json(const FaultSpec& spec) {
  nlohmann::json json = {{"method", spec.method},
                         {"path", spec.path},
                         {"kind", to_string(spec.kind)},
                         {"probability", spec.trigger.probability}};
  if (spec.kind == FaultKind::status) json["status"] = spec.status;
  if (spec.kind == FaultKind::delay) json["delay_ms"] = spec.delay_ms;
  if (spec.kind == FaultKind::search_lag) json["lag_ms"] = spec.lag_ms;
  if (spec.trigger.first != 0) json["first"] = spec.trigger.first;
  if (spec.trigger.every != 0) json["every"] = spec.trigger.every;
  if (spec.trigger.times != 0) json["times"] = spec.trigger.times;
  if (spec.operation) json["operation"] = *spec.operation;
  return json;
}

nlohmann::json to_json(const InstalledFault& fault) {
  nlohmann::json json = to_json(fault.spec);
  json["id"] = fault.id;
  json["matched"] = fault.matched;
  json["fired"] = fault.fired;
  return json;
}

std::uint64_t FaultInjector::add(FaultSpec spec) {
  if (spec.path.empty() || spec.path.front() != '/') {
    if (spec.path != "**") {
      throw UsageError(fmt::format("fault spec: path '{}' must start with '/'", spec.path));
    }
  }
  if (spec.method.empty()) throw UsageError("fault spec: method must not be empty (use \"*\")");
  if (spec.trigger.probability < 0 || spec.trigger.probability > 1) {
    throw UsageError(
        fmt::format("fault spec: probability {} is not in [0, 1]", spec.trigger.probability));
  }
  if (spec.kind == FaultKind::status && (spec.status < 100 || spec.status > 599)) {
    throw UsageError(fmt::format("fault spec: status {} is not an HTTP status", spec.status));
  }
  if (spec.delay_ms < 0 || spec.lag_ms < 0) {
    throw UsageError("fault spec: delay_ms and lag_ms must not be negative");
  }
  faults_.push_back(InstalledFault{next_id_, std::move(spec), 0, 0});
  return next_id_++;
}

bool FaultInjector::remove(std::uint64_t id) {
  for (auto it = faults_.begin(); it != faults_.end(); ++it) {
    if (it->id == id) {
      faults_.erase(it);
      return true;
    }
  }
  return false;
}

bool FaultInjector::fires(InstalledFault& fault, std::uint64_t request_key) {
  const FaultTrigger& trigger = fault.spec.trigger;
  if (trigger.times != 0 && fault.fired >= trigger.times) return false;
  bool fire = true;
  if (trigger.first != 0) fire = fault.matched <= trigger.first;
  if (fire && trigger.every != 0) fire = fault.matched % trigger.every == 0;
  // Draw only for a real probability. Each draw is its own stream, keyed by
  // the fault's spec (not its id, which shifts when an earlier fault is
  // left out) and the request: adding, removing or reordering other faults
  // and other requests leaves it alone.
  if (fire && trigger.probability < 1.0) {
    const std::uint64_t key =
        StableHash{}.add_field(to_json(fault.spec).dump()).add(request_key).value();
    const std::uint64_t nth = ++seen_[key];
    fire = rng_.derive(fmt::format("{:016x}/{}", key, nth)).chance(trigger.probability);
  }
  if (fire) ++fault.fired;
  return fire;
}

FaultDecision FaultInjector::decide(std::string_view method, std::string_view path,
                                    std::string_view request,
                                    std::optional<std::int64_t> operation) {
  FaultDecision decision;
  const std::uint64_t request_key =
      StableHash{}.add_field(method).add_field(path).add_field(request).value();
  for (InstalledFault& fault : faults_) {
    if (fault.spec.method != "*" && fault.spec.method != method) continue;
    if (!path_matches(fault.spec.path, path)) continue;
    if (fault.spec.operation && fault.spec.operation != operation) continue;
    ++fault.matched;
    const bool is_lag = fault.spec.kind == FaultKind::search_lag;
    // A fault that cannot take effect because another already fired does not
    // count as fired.
    if (is_lag ? decision.lag.has_value() : decision.fault.has_value()) continue;
    if (!fires(fault, request_key)) continue;
    (is_lag ? decision.lag : decision.fault) = Firing{fault.id, fault.spec};
  }
  return decision;
}

}  // namespace orgquake::fakes
