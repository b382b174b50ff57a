#pragma once

// Redis's MONITOR stream, read by the harness: every command the server
// runs, in the order it runs them, with the server's time and the calling
// connection. The lock observer builds the lock's history from it, whatever
// language the migrator is written in.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/redis_connection.hpp"
#include "services/redis_url.hpp"

namespace orgquake::services {

/// One line of MONITOR output:
/// `1796253340.530711 [0 127.0.0.1:51302] "set" "k" "tok" "NX" "PX" "1000"`.
struct MonitorLine {
  std::int64_t server_time_us = 0;
  /// "127.0.0.1:51302", "unix:/path", or "lua" for a command a script ran
  /// (Redis names no caller for those; the script's own line came before).
  std::string source;
  std::vector<std::string> args;  ///< the command name first, as the caller spelled it
};

/// nullopt for a line that is not MONITOR's format.
std::optional<MonitorLine> parse_monitor_line(std::string_view line);

/// A connection in MONITOR mode. Construct, then read lines until the
/// server goes away (an EnvironmentError) or the caller has enough.
class RedisMonitor {
 public:
  /// Connects, measures the server's clock against this process's
  /// CLOCK_MONOTONIC (TIME, halfway through its round trip) and enters
  /// MONITOR. Throws EnvironmentError when any of it fails, e.g. an ACL
  /// that forbids MONITOR.
  static RedisMonitor connect(const RedisUrl& url, std::chrono::milliseconds timeout);

  /// The next line, or nullopt when none came within `wait`. Throws
  /// EnvironmentError once the connection is lost.
  std::optional<std::string> next_line(std::chrono::milliseconds wait);

  /// A server time (microseconds of its wall clock) as CLOCK_MONOTONIC
  /// nanoseconds of this machine.
  std::int64_t monotonic_ns(std::int64_t server_time_us) const {
    return server_time_us * 1000 - server_minus_monotonic_ns_;
  }

 private:
  explicit RedisMonitor(RedisConnection connection) : connection_(std::move(connection)) {}
  RedisConnection connection_;
  std::int64_t server_minus_monotonic_ns_ = 0;
};

}  // namespace orgquake::services
