#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "services/redis_url.hpp"

struct redisContext;

namespace orgquake::services {

/// A blocking hiredis connection for the harness's own use (readiness,
/// the interlock, flushing between trials). Migrator code under test uses its
/// own fiber-aware client.
class RedisConnection {
 public:
  /// Connects, authenticates and selects the URL's database; throws
  /// EnvironmentError with the server's answer otherwise.
  static RedisConnection connect(const RedisUrl& url, std::chrono::milliseconds timeout);

  /// Runs a command whose reply is an integer.
  long long command_integer(const std::vector<std::string>& args);
  /// Runs a command whose reply is a status or string; returns it.
  std::string command_status(const std::vector<std::string>& args);
  /// Runs a command whose reply is an array of strings (TIME); returns them.
  std::vector<std::string> command_strings(const std::vector<std::string>& args);

 private:
  friend class RedisMonitor;  // reads the stream a MONITOR command starts
  struct Free {
    void operator()(redisContext* c) const;
  };
  explicit RedisConnection(redisContext* c) : context_(c) {}
  std::unique_ptr<redisContext, Free> context_;
};

}  // namespace orgquake::services
