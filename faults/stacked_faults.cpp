#include "faults/stacked_faults.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/error.hpp"
#include "faults/service_faults.hpp"

namespace orgquake::faults {
namespace {

std::chrono::milliseconds milliseconds_field(const nlohmann::json& table, const char* key,
                                             const std::string& where) {
  const auto& value = table.at(key);
  if (!value.is_number_integer() || value.get<std::int64_t>() < 0 ||
      value.get<std::int64_t>() > 3'600'000) {
    throw UsageError(
        fmt::format("{}: {} must be a whole number of milliseconds from 0 to 3600000, not {}",
                    where, key, value.dump()));
  }
  return std::chrono::milliseconds(value.get<std::int64_t>());
}

void reject_unknown(const nlohmann::json& table, const std::vector<std::string>& known,
                    const std::string& where, const std::string& kind) {
  for (const auto& [key, value] : table.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    throw UsageError(fmt::format("{}: unknown key {} for a {} fault (it takes: {})", where, key,
                                 kind, fmt::join(known, ", ")));
  }
}

}  // namespace

const std::vector<std::string>& stackable_kinds() {
  static const std::vector<std::string> kinds = {"http_fault", "stripe_search_lag", "redis_outage",
                                                 "backend_kill"};
  return kinds;
}

std::unique_ptr<Fault> stacked_fault(const nlohmann::json& table, const std::string& where) {
  if (!table.is_object()) throw UsageError(where + ": a fault is a table");
  const auto kind_it = table.find("kind");
  if (kind_it == table.end() || !kind_it->is_string()) {
    throw UsageError(fmt::format("{}: a fault needs kind = one of {}", where,
                                 fmt::join(stackable_kinds(), ", ")));
  }
  const std::string kind = kind_it->get<std::string>();
  std::vector<std::string> known = {"kind",         "at_ms", "at_operation",
                                    "at_failpoint", "hit",   "lasting_ms"};
  std::unique_ptr<Fault> fault;
  if (kind == "http_fault") {
    known.insert(known.end(), {"service", "http"});
    reject_unknown(table, known, where, kind);
    const auto service = table.find("service");
    if (service == table.end() || !service->is_string() ||
        (*service != "stripe" && *service != "litellm")) {
      throw UsageError(where + ": an http_fault needs service = \"stripe\" or \"litellm\"");
    }
    if (!table.contains("http")) {
      throw UsageError(where + ": an http_fault needs http = { kind = ..., path = ... }");
    }
    try {
      fault = std::make_unique<HttpFault>(service->get<std::string>(),
                                          fakes::fault_spec_from_json(table.at("http")));
    } catch (const UsageError& e) {
      throw UsageError(fmt::format("{}: http: {}", where, e.what()));
    }
  } else if (kind == "stripe_search_lag") {
    known.push_back("lag_ms");
    reject_unknown(table, known, where, kind);
    if (!table.contains("lag_ms")) throw UsageError(where + ": a stripe_search_lag needs lag_ms");
    fault = std::make_unique<StripeSearchLag>(milliseconds_field(table, "lag_ms", where));
  } else if (kind == "redis_outage") {
    reject_unknown(table, known, where, kind);
    fault = std::make_unique<RedisOutage>();
  } else if (kind == "backend_kill") {
    reject_unknown(table, known, where, kind);
    if (table.contains("lasting_ms")) {
      throw UsageError(where + ": a backend_kill is instant and takes no lasting_ms");
    }
    fault = std::make_unique<BackendKill>();
  } else if (kind == "crash_at_failpoint" || kind == "pause_at_failpoint") {
    throw UsageError(fmt::format(
        "{}: {} acts on the worker at a gated failpoint, which only a scenario can gate; "
        "stackable kinds: {}",
        where, kind, fmt::join(stackable_kinds(), ", ")));
  } else {
    throw UsageError(fmt::format("{}: unknown fault kind {} (stackable kinds: {})", where, kind,
                                 fmt::join(stackable_kinds(), ", ")));
  }
  if (table.contains("at_operation")) {
    if (table.contains("at_ms")) {
      throw UsageError(where + ": give at_ms or at_operation, not both");
    }
    const auto& op = table.at("at_operation");
    if (!op.is_number_integer() || op.get<std::int64_t>() < 0) {
      throw UsageError(
          fmt::format("{}: at_operation: expected an operation id (a non-negative integer), got {}",
                      where, op.dump()));
    }
    fault->timing.at_operation = op.get<std::int64_t>();
    if (table.contains("at_failpoint")) {
      const auto& failpoint = table.at("at_failpoint");
      if (!failpoint.is_string() || failpoint.get<std::string>().empty()) {
        throw UsageError(fmt::format("{}: at_failpoint: expected a failpoint name, got {}", where,
                                     failpoint.dump()));
      }
      fault->timing.at_failpoint = failpoint.get<std::string>();
      if (table.contains("hit")) {
        const auto& hit = table.at("hit");
        if (!hit.is_number_integer() || hit.get<std::int64_t>() < 1 ||
            hit.get<std::int64_t>() > 1'000'000) {
          throw UsageError(
              fmt::format("{}: hit: expected which firing of the failpoint (1, 2, ...), got {}",
                          where, hit.dump()));
        }
        fault->timing.hit = hit.get<int>();
      }
    } else if (table.contains("hit")) {
      throw UsageError(where + ": hit counts firings of at_failpoint, which is missing");
    }
  } else if (table.contains("at_failpoint") || table.contains("hit")) {
    throw UsageError(where +
                     ": at_failpoint needs at_operation (the operation whose firing it is)");
  } else {
    fault->timing.at = table.contains("at_ms") ? milliseconds_field(table, "at_ms", where)
                                               : std::chrono::milliseconds(0);
  }
  if (table.contains("lasting_ms")) {
    fault->timing.lasting = milliseconds_field(table, "lasting_ms", where);
  }
  return fault;
}

std::string check_stacked_faults(const nlohmann::json& tables, const std::string& where) {
  if (!tables.is_array()) return where + ": faults is a list of tables ([[...faults]])";
  for (std::size_t i = 0; i < tables.size(); ++i) {
    try {
      stacked_fault(tables[i], fmt::format("{}[{}]", where, i));
    } catch (const UsageError& e) {
      return e.what();
    }
  }
  return "";
}

}  // namespace orgquake::faults
