#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/random.hpp"

namespace orgquake::fakes {

/// What an injected HTTP fault does to a request it fires on.
enum class FaultKind {
  status,            ///< answer `status` at once; the request is not applied
  delay,             ///< wait `delay_ms`, then apply and answer normally
  hold,              ///< never answer and never apply; the client must time out
  reset,             ///< reset the connection before applying
  apply_then_reset,  ///< apply, then reset the connection: the response is lost
  apply_then_500,    ///< apply, then answer 500: the client believes it failed
  apply_then_hold,   ///< apply, then never answer: the client times out
  search_lag,        ///< searches answered with this request see writes older than `lag_ms` only
};

std::string_view to_string(FaultKind kind);
/// Throws UsageError for an unknown name.
FaultKind fault_kind_from_string(std::string_view name);

/// When a fault fires among the requests its route matches. With none of
/// first/every/probability set it fires on every match.
struct FaultTrigger {
  std::uint64_t first = 0;  ///< fire on the first N matches
  std::uint64_t every = 0;  ///< fire on match k, 2k, 3k...
  /// Fire with this probability. The draw is keyed by the request (method,
  /// target, body, and how many such requests came before), not by its place
  /// among all requests: a replay that leaves other users' operations out
  /// (orgquake shrink) draws the same for this user's requests.
  double probability = 1.0;
  std::uint64_t times = 0;  ///< stop after this many firings; 0 = no limit
};

/// One fault on one route.
struct FaultSpec {
  std::string method = "*";  ///< "POST", or "*" for any method
  /// Path glob, query excluded: '*' matches within one segment, "**" across
  /// segments. "/v1/customers/*" matches "/v1/customers/cus_1".
  std::string path = "**";
  FaultKind kind = FaultKind::status;
  int status = 503;
  std::int64_t delay_ms = 0;
  std::int64_t lag_ms = 0;
  FaultTrigger trigger;
  /// Only the requests of this operation (their Orgquake-Operation header);
  /// none: every request. Scoped so, its `first`, `every` and `times` count
  /// that operation's requests alone: leaving other operations out of a
  /// shrunk replay does not move which request it meets.
  std::optional<std::int64_t> operation = std::nullopt;
};

/// A fault as installed, with its counters.
struct InstalledFault {
  std::uint64_t id = 0;
  FaultSpec spec;
  std::uint64_t matched = 0;
  std::uint64_t fired = 0;
};

/// A fault that fired on the current request.
struct Firing {
  std::uint64_t fault_id = 0;
  FaultSpec spec;
};

/// What fires on one request: at most one behavioural fault, and a search lag.
struct FaultDecision {
  std::optional<Firing> fault;
  std::optional<Firing> lag;
};

/// True when `path` matches the glob `pattern` (see FaultSpec::path).
bool path_matches(std::string_view pattern, std::string_view path);

/// Parses {"method", "path", "kind", "status", "delay_ms", "lag_ms", "first",
/// "every", "probability", "times"}; throws UsageError naming the bad field.
FaultSpec fault_spec_from_json(const nlohmann::json& json);
nlohmann::json to_json(const FaultSpec& spec);
nlohmann::json to_json(const InstalledFault& fault);

/// The per-route HTTP faults of one fake. Every random draw comes from the
/// seeded Rng, so one seed and one request order give one set of firings.
class FaultInjector {
 public:
  explicit FaultInjector(Rng rng) : rng_(rng) {}

  /// Installs a fault and returns its id. Throws UsageError for a bad spec.
  std::uint64_t add(FaultSpec spec);
  bool remove(std::uint64_t id);
  void clear() { faults_.clear(); }
  const std::vector<InstalledFault>& installed() const { return faults_; }

  /// Counts the request against every fault whose route matches and returns
  /// the first behavioural fault (in installation order) that fires, plus
  /// the first search lag that fires.
  /// `request` (what tells this request apart: its target and body) keys
  /// the faults' probability draws (FaultTrigger::probability); `operation`
  /// is the one the request says it serves, if it says.
  FaultDecision decide(std::string_view method, std::string_view path,
                       std::string_view request = {},
                       std::optional<std::int64_t> operation = std::nullopt);

 private:
  bool fires(InstalledFault& fault, std::uint64_t request_key);

  Rng rng_;
  std::vector<InstalledFault> faults_;
  /// How many requests of each key (fault spec, method, path, request) came.
  std::map<std::uint64_t, std::uint64_t> seen_;
  std::uint64_t next_id_ = 1;
};

}  // namespace orgquake::fakes
