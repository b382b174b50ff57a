#include "migrator/migrator_client.hpp"

namespace orgquake::migrator {

std::unique_ptr<MigratorClient> MigratorClient::connect(const MigratorEndpoints& endpoints,
                                                        io::Deadline deadline) {
  io::HttpClient::Options http;
  http.request_timeout = endpoints.http_request_timeout;
  auto client = std::unique_ptr<MigratorClient>(new MigratorClient{
      // A transaction must not outlive the lease it runs under: a holder
      // stalled mid-transaction (a GC pause, a stopped VM) would keep its
      // row locks and block the next holder in PostgreSQL long after Redis
      // let it in. The server ends such a session; the stalled holder's
      // commit then fails.
      // Every prepared statement is a lookup by key, whose plan does not
      // depend on the key: without force_generic_plan a session plans each
      // statement afresh for its first five executions, and sessions are
      // reset between trials (GetCachedPlan was 8% of the server's samples
      // in a duplicate-lookup run).
      io::PgConnection::connect(
          endpoints.pg_conninfo, deadline, endpoints.pg_application_name,
          "-c idle_in_transaction_session_timeout=" + std::to_string(endpoints.lock.ttl.count()) +
              " -c plan_cache_mode=force_generic_plan"),
      io::RedisClient::connect(endpoints.redis, deadline),
      std::make_unique<io::HttpClient>(endpoints.stripe_host, endpoints.stripe_port, http),
      std::make_unique<io::HttpClient>(endpoints.litellm_host, endpoints.litellm_port, http),
      nullptr, nullptr, endpoints.lock});
  // The API clients' own randomness only jitters retry pauses.
  client->stripe = std::make_unique<StripeClient>(
      *client->stripe_http, StripeClient::Options{endpoints.stripe_secret_key}, Rng(1));
  client->litellm = std::make_unique<LiteLlmClient>(
      *client->litellm_http, LiteLlmClient::Options{endpoints.litellm_master_key}, Rng(2));
  return client;
}

MigratorContext MigratorClient::context(std::uint64_t seed) {
  return MigratorContext{pg, redis, *stripe, *litellm, Rng(seed), lock, {}};
}

}  // namespace orgquake::migrator
