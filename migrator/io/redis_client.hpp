#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "migrator/io/reactor.hpp"

struct redisContext;

namespace orgquake::io {

/// Where a Redis server is.
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string password;
  int database = 0;
  /// Sent as CLIENT SETNAME when not empty: the harness watches Redis
  /// (MONITOR) and attributes lock commands to a worker's client by it.
  std::string client_name;
};

/// The connection failed, broke or timed out; it cannot be used again. The
/// lock built on this client treats it as "Redis is unreachable": an error,
/// never a reason to proceed without the lock.
class RedisUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The server answered with an error reply (-ERR ..., -NOSCRIPT ...).
class RedisErrorReply : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One reply, flattened into what the migrator needs.
struct RedisReply {
  enum class Kind { nil, integer, text, array } kind = Kind::nil;
  std::int64_t integer = 0;
  std::string text;  ///< bulk string or status ("OK")
  std::vector<RedisReply> elements;

  bool is_nil() const { return kind == Kind::nil; }
};

/// A Redis connection whose waits suspend only the calling fiber
/// (nonblocking hiredis over the reactor). Used by one fiber at a time.
class RedisClient {
 public:
  static RedisClient connect(const RedisEndpoint& endpoint, Deadline deadline);

  RedisClient(RedisClient&&) noexcept;
  RedisClient& operator=(RedisClient&&) noexcept;
  ~RedisClient();

  /// Sends one command and waits for its reply. Throws RedisErrorReply for an
  /// error reply (connection usable), RedisUnavailable when the connection
  /// broke or `deadline` passed (it is then closed).
  RedisReply command(const std::vector<std::string_view>& args, Deadline deadline = std::nullopt);

  bool open() const { return context_ != nullptr; }
  void close();

 private:
  explicit RedisClient(redisContext* c) : context_(c) {}
  [[noreturn]] void fail(const std::string& what);
  redisContext* context_ = nullptr;
};

}  // namespace orgquake::io
