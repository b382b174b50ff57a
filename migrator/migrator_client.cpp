#include "migrator/migrator_client.hpp"

namespace orgquake::migrator {

std::unique_ptr<MigratorClient> MigratorClient::connect(const MigratorEndpoints& endpoints,
                                                        io::Deadline deadline) {
  auto client = std::unique_ptr<MigratorClient>(new MigratorClient{
      io::PgConnection::connect(endpoints.pg_conninfo, deadline),
      io::RedisClient::connect(endpoints.redis, deadline),
      std::make_unique<io::HttpClient>(endpoints.stripe_host, endpoints.stripe_port),
      std::make_unique<io::HttpClient>(endpoints.litellm_host, endpoints.litellm_port), nullptr,
      nullptr, endpoints.lock});
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
