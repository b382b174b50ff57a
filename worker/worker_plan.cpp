#include "worker/worker_plan.hpp"

#include <charconv>
#include <stdexcept>

#include <fmt/format.h>

#include "services/redis_url.hpp"

namespace orgquake::worker {
namespace {

std::string http_url(const std::string& host, std::uint16_t port) {
  return fmt::format("http://{}:{}", host, port);
}

/// "http://host:port" (a trailing slash allowed) into its host and port.
void parse_http_url(const std::string& url, std::string& host, std::uint16_t& port) {
  constexpr std::string_view scheme = "http://";
  std::string_view rest(url);
  if (rest.substr(0, scheme.size()) != scheme) {
    throw std::invalid_argument(fmt::format("'{}' is not an http:// URL", url));
  }
  rest.remove_prefix(scheme.size());
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  const auto colon = rest.rfind(':');
  unsigned value = 0;
  if (colon == std::string_view::npos ||
      std::from_chars(rest.data() + colon + 1, rest.data() + rest.size(), value).ec !=
          std::errc{} ||
      value == 0 || value > 65535) {
    throw std::invalid_argument(fmt::format("'{}' has no port", url));
  }
  host = std::string(rest.substr(0, colon));
  port = static_cast<std::uint16_t>(value);
}

std::string redis_url(const io::RedisEndpoint& redis) {
  const std::string auth = redis.password.empty() ? "" : ":" + redis.password + "@";
  return fmt::format("redis://{}{}:{}/{}", auth, redis.host, redis.port, redis.database);
}

}  // namespace

nlohmann::json WorkerPlan::to_json() const {
  nlohmann::json clients_json = nlohmann::json::array();
  for (const auto& client : clients) {
    nlohmann::json ops = nlohmann::json::array();
    for (const auto& op : client.ops)
      ops.push_back({{"op", op.op}, {"kind", op.kind}, {"user", op.user}});
    clients_json.push_back({{"ops", std::move(ops)}, {"start_delay_ms", client.start_delay_ms}});
  }
  const auto& e = endpoints;
  return {
      {"t", message::plan},
      {"protocol", protocol_version},
      {"worker", worker},
      {"seed", seed},
      {"migrator", migrator},
      {"phase", phase},
      {"trial_start_ns", trial_start_ns},
      {"endpoints",
       {{"postgres_url", e.pg_conninfo},
        {"redis_url", redis_url(e.redis)},
        {"stripe_url", http_url(e.stripe_host, e.stripe_port)},
        {"stripe_secret_key", e.stripe_secret_key},
        {"litellm_url", http_url(e.litellm_host, e.litellm_port)},
        {"litellm_master_key", e.litellm_master_key},
        {"http_request_timeout_ms", e.http_request_timeout.count()}}},
      {"lock",
       {{"ttl_ms", e.lock.ttl.count()},
        {"max_wait_ms", e.lock.max_wait.count()},
        {"retry_min_ms", e.lock.retry_min.count()},
        {"retry_max_ms", e.lock.retry_max.count()},
        {"command_timeout_ms", e.lock.command_timeout.count()},
        {"key_prefix", e.lock.key_prefix},
        {"fence_prefix", e.lock.fence_prefix}}},
      {"lookup", {{"strategy", strategy}, {"fast_path", fast_path}}},
      {"failpoints", failpoints},
      {"gated_failpoints", gated_failpoints},
      {"clients", std::move(clients_json)},
  };
}

WorkerPlan WorkerPlan::from_json(const nlohmann::json& json) {
  // nlohmann's own exceptions name the type but not the field: say which.
  const auto at = [](const nlohmann::json& object, const char* key) -> const nlohmann::json& {
    if (!object.is_object() || !object.contains(key)) {
      throw std::invalid_argument(fmt::format("the plan has no \"{}\"", key));
    }
    return object.at(key);
  };
  const auto protocol = at(json, "protocol");
  if (!is_protocol_version(protocol)) {
    throw std::invalid_argument(
        fmt::format("the plan speaks protocol version {}; this worker "
                    "speaks {}",
                    protocol.dump(), protocol_version));
  }
  WorkerPlan plan;
  try {
    plan.worker = at(json, "worker").get<int>();
    plan.seed = at(json, "seed").get<std::uint64_t>();
    plan.migrator = at(json, "migrator").get<std::string>();
    plan.phase = at(json, "phase").get<std::string>();
    plan.trial_start_ns = at(json, "trial_start_ns").get<std::int64_t>();
    const auto& e = at(json, "endpoints");
    auto& out = plan.endpoints;
    out.pg_conninfo = at(e, "postgres_url").get<std::string>();
    const auto redis = services::RedisUrl::parse(at(e, "redis_url").get<std::string>());
    out.redis = {redis.host, redis.port, redis.password, redis.database, {}};
    parse_http_url(at(e, "stripe_url").get<std::string>(), out.stripe_host, out.stripe_port);
    out.stripe_secret_key = at(e, "stripe_secret_key").get<std::string>();
    parse_http_url(at(e, "litellm_url").get<std::string>(), out.litellm_host, out.litellm_port);
    out.litellm_master_key = at(e, "litellm_master_key").get<std::string>();
    out.http_request_timeout =
        std::chrono::milliseconds(at(e, "http_request_timeout_ms").get<std::int64_t>());
    const auto& l = at(json, "lock");
    using std::chrono::milliseconds;
    out.lock.ttl = milliseconds(at(l, "ttl_ms").get<std::int64_t>());
    out.lock.max_wait = milliseconds(at(l, "max_wait_ms").get<std::int64_t>());
    out.lock.retry_min = milliseconds(at(l, "retry_min_ms").get<std::int64_t>());
    out.lock.retry_max = milliseconds(at(l, "retry_max_ms").get<std::int64_t>());
    out.lock.command_timeout = milliseconds(at(l, "command_timeout_ms").get<std::int64_t>());
    out.lock.key_prefix = at(l, "key_prefix").get<std::string>();
    out.lock.fence_prefix = at(l, "fence_prefix").get<std::string>();
    const auto& lookup = at(json, "lookup");
    plan.strategy = at(lookup, "strategy").get<std::string>();
    plan.fast_path = at(lookup, "fast_path").get<bool>();
    plan.failpoints = at(json, "failpoints").get<std::string>();
    plan.gated_failpoints = at(json, "gated_failpoints").get<std::vector<std::string>>();
    for (const auto& c : at(json, "clients")) {
      ClientPlan client;
      client.start_delay_ms = at(c, "start_delay_ms").get<std::int64_t>();
      for (const auto& o : at(c, "ops")) {
        client.ops.push_back({at(o, "op").get<std::int64_t>(), at(o, "kind").get<std::string>(),
                              at(o, "user").get<std::string>()});
      }
      plan.clients.push_back(std::move(client));
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(fmt::format("a plan field of the wrong type: {}", e.what()));
  } catch (const std::runtime_error& e) {  // a URL the parsers refuse
    throw std::invalid_argument(e.what());
  }
  return plan;
}

const char* name_of(HitDecision decision) {
  switch (decision) {
    case HitDecision::proceed:
      return "proceed";
    case HitDecision::error:
      return "error";
    case HitDecision::crash:
      return "crash";
  }
  return "?";
}

}  // namespace orgquake::worker
