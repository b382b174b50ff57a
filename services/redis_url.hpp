#pragma once

#include <cstdint>
#include <string>

namespace orgquake::services {

/// A Redis target: redis://[[user]:password@]host[:port][/db].
struct RedisUrl {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string user;
  std::string password;
  int database = 0;

  /// Throws UsageError naming the URL and what is wrong with it.
  static RedisUrl parse(const std::string& url);
  /// For people and logs, password masked.
  std::string display() const;
};

}  // namespace orgquake::services
