#include "harness/engine/worker_plan.hpp"

namespace orgquake::engine {

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
      {"worker", worker},
      {"seed", seed},
      {"migrator", migrator},
      {"phase", phase},
      {"trial_start_ns", trial_start_ns},
      {"endpoints",
       {{"pg_conninfo", e.pg_conninfo},
        {"redis_host", e.redis.host},
        {"redis_port", e.redis.port},
        {"redis_password", e.redis.password},
        {"redis_database", e.redis.database},
        {"stripe_host", e.stripe_host},
        {"stripe_port", e.stripe_port},
        {"stripe_secret_key", e.stripe_secret_key},
        {"litellm_host", e.litellm_host},
        {"litellm_port", e.litellm_port},
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
      {"strategy", strategy},
      {"fast_path", fast_path},
      {"failpoints", failpoints},
      {"gated_failpoints", gated_failpoints},
      {"clients", std::move(clients_json)},
  };
}

WorkerPlan WorkerPlan::from_json(const nlohmann::json& json) {
  WorkerPlan plan;
  plan.worker = json.at("worker").get<int>();
  plan.seed = json.at("seed").get<std::uint64_t>();
  plan.migrator = json.at("migrator").get<std::string>();
  plan.phase = json.at("phase").get<std::string>();
  plan.trial_start_ns = json.at("trial_start_ns").get<std::int64_t>();
  const auto& e = json.at("endpoints");
  auto& out = plan.endpoints;
  out.pg_conninfo = e.at("pg_conninfo").get<std::string>();
  out.redis.host = e.at("redis_host").get<std::string>();
  out.redis.port = e.at("redis_port").get<std::uint16_t>();
  out.redis.password = e.at("redis_password").get<std::string>();
  out.redis.database = e.at("redis_database").get<int>();
  out.stripe_host = e.at("stripe_host").get<std::string>();
  out.stripe_port = e.at("stripe_port").get<std::uint16_t>();
  out.stripe_secret_key = e.at("stripe_secret_key").get<std::string>();
  out.litellm_host = e.at("litellm_host").get<std::string>();
  out.litellm_port = e.at("litellm_port").get<std::uint16_t>();
  out.litellm_master_key = e.at("litellm_master_key").get<std::string>();
  out.http_request_timeout =
      std::chrono::milliseconds(e.at("http_request_timeout_ms").get<std::int64_t>());
  const auto& l = json.at("lock");
  using std::chrono::milliseconds;
  out.lock.ttl = milliseconds(l.at("ttl_ms").get<std::int64_t>());
  out.lock.max_wait = milliseconds(l.at("max_wait_ms").get<std::int64_t>());
  out.lock.retry_min = milliseconds(l.at("retry_min_ms").get<std::int64_t>());
  out.lock.retry_max = milliseconds(l.at("retry_max_ms").get<std::int64_t>());
  out.lock.command_timeout = milliseconds(l.at("command_timeout_ms").get<std::int64_t>());
  out.lock.key_prefix = l.at("key_prefix").get<std::string>();
  out.lock.fence_prefix = l.at("fence_prefix").get<std::string>();
  plan.strategy = json.at("strategy").get<std::string>();
  plan.fast_path = json.at("fast_path").get<bool>();
  plan.failpoints = json.at("failpoints").get<std::string>();
  plan.gated_failpoints = json.at("gated_failpoints").get<std::vector<std::string>>();
  for (const auto& c : json.at("clients")) {
    ClientPlan client;
    client.start_delay_ms = c.at("start_delay_ms").get<std::int64_t>();
    for (const auto& o : c.at("ops")) {
      client.ops.push_back({o.at("op").get<std::int64_t>(), o.at("kind").get<std::string>(),
                            o.at("user").get<std::string>()});
    }
    plan.clients.push_back(std::move(client));
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

}  // namespace orgquake::engine
