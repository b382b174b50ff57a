#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "migrator/io/http_client.hpp"
#include "migrator/io/pg_connection.hpp"
#include "migrator/io/redis_client.hpp"
#include "migrator/migrator.hpp"

namespace orgquake::migrator {

/// Where the servers migrator code talks to are, and how it locks.
struct MigratorEndpoints {
  std::string pg_conninfo;
  /// The PostgreSQL session's application_name; none when empty.
  std::string pg_application_name;
  io::RedisEndpoint redis;
  std::string stripe_host = "127.0.0.1";
  std::uint16_t stripe_port = 0;
  std::string stripe_secret_key = "sk_test_orgquake";
  std::string litellm_host = "127.0.0.1";
  std::uint16_t litellm_port = 0;
  std::string litellm_master_key = "sk-orgquake-master";
  /// How long an API call may take before it counts as timed out.
  std::chrono::milliseconds http_request_timeout{5000};
  LockOptions lock;
};

/// The connections one client of migrator code owns (a fiber, a worker's
/// client, a benchmark thread): its own PostgreSQL and Redis sessions and
/// keep-alive HTTP clients for both APIs. Make it on the thread (and in the
/// process) that will use it. Members are public so that a test can swap
/// one for a client pointed elsewhere.
struct MigratorClient {
  io::PgConnection pg;
  io::RedisClient redis;
  std::unique_ptr<io::HttpClient> stripe_http, litellm_http;
  std::unique_ptr<StripeClient> stripe;
  std::unique_ptr<LiteLlmClient> litellm;
  LockOptions lock;

  static std::unique_ptr<MigratorClient> connect(const MigratorEndpoints& endpoints,
                                                 io::Deadline deadline);

  /// A context whose randomness starts from `seed`: equal seeds make equal
  /// choices (lock tokens, replacement keys), so runs can be compared.
  MigratorContext context(std::uint64_t seed);
};

}  // namespace orgquake::migrator
