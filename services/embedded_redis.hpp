#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "services/child_process.hpp"
#include "services/redis_url.hpp"
#include "services/run_directory.hpp"

namespace orgquake::services {

/// A redis-server of the harness's own on a loopback port, without
/// persistence: a lock's whole life is in memory, as in production.
class EmbeddedRedis {
 public:
  struct Options {
    std::optional<std::uint16_t> port;  ///< none: a free port of the kernel's choice
  };

  /// Starts redis-server and returns once it answers PING.
  static std::unique_ptr<EmbeddedRedis> start(const RunDirectory& run, const Options& options);
  ~EmbeddedRedis() { stop(); }

  RedisUrl url() const;
  std::uint16_t port() const { return port_; }
  pid_t pid() const { return process_ ? process_->pid() : -1; }

  void stop();

 private:
  EmbeddedRedis() = default;
  std::optional<ChildProcess> process_;
  std::uint16_t port_ = 0;
};

/// $ORGQUAKE_REDIS_SERVER, else redis-server on PATH or in /usr/bin.
std::filesystem::path find_redis_server();

}  // namespace orgquake::services
