#include "services/embedded_redis.hpp"

#include <cstdlib>
#include <signal.h>
#include <sstream>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "services/loopback_port.hpp"
#include "services/postgres_server.hpp"
#include "services/redis_connection.hpp"
#include "services/server_log.hpp"

namespace fs = std::filesystem;

namespace orgquake::services {
namespace {

constexpr auto kRedisStartTimeout = std::chrono::seconds(30);
constexpr int kRedisPortAttempts = 5;

bool ready(std::uint16_t port) {
  try {
    RedisUrl url;
    url.port = port;
    auto redis = RedisConnection::connect(url, std::chrono::milliseconds(200));
    return redis.command_status({"PING"}) == "PONG";
  } catch (const EnvironmentError&) {
    return false;
  }
}

ChildProcess start_on(const fs::path& binary, const RunDirectory& run, const fs::path& dir,
                      const fs::path& log, std::uint16_t port) {
  ChildProcess process = ChildProcess::spawn({binary,
                                              {"--port",
                                               std::to_string(port),
                                               "--bind",
                                               "127.0.0.1",
                                               "--save",
                                               "",
                                               "--appendonly",
                                               "no",
                                               "--dir",
                                               dir.string(),
                                               "--daemonize",
                                               "no",
                                               "--protected-mode",
                                               "no",
                                               "--logfile",
                                               "",
                                               "--loglevel",
                                               "warning",
                                               "--maxclients",
                                               "4064"},
                                              log,
                                              std::nullopt,
                                              dir,
                                              -1,
                                              {}});
  run.record_child(process.pid());
  const auto deadline = std::chrono::steady_clock::now() + kRedisStartTimeout;
  while (!ready(port)) {
    if (!process.running()) {
      if (log_says_address_in_use(log)) {
        throw PortInUse(port);
      }
      throw EnvironmentError(fmt::format("redis-server {} during start-up ({}): {}",
                                         process.describe_exit(), log.string(),
                                         explain_from_log(log)));
    }
    if (pending_interrupt() != 0) process.stop(SIGKILL, std::chrono::milliseconds(0));
    throw_if_interrupted();
    if (std::chrono::steady_clock::now() > deadline) {
      throw EnvironmentError(fmt::format("redis-server did not answer PING within {} s ({})",
                                         kRedisStartTimeout.count(), log.string()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return process;
}

}  // namespace

fs::path find_redis_server() {
  if (const char* path = std::getenv("ORGQUAKE_REDIS_SERVER"); path && *path) {
    if (access(path, X_OK) != 0) {
      throw EnvironmentError(
          fmt::format("ORGQUAKE_REDIS_SERVER={} is not an executable; fix it or unset it", path));
    }
    return path;
  }
  if (const char* path = std::getenv("PATH")) {
    std::istringstream dirs(path);
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
      if (!dir.empty() && access((fs::path(dir) / "redis-server").c_str(), X_OK) == 0) {
        return fs::path(dir) / "redis-server";
      }
    }
  }
  if (access("/usr/bin/redis-server", X_OK) == 0) return "/usr/bin/redis-server";
  throw EnvironmentError(
      "redis-server not found on PATH: run ci/quake setup (Debian package redis-server), set "
      "ORGQUAKE_REDIS_SERVER, or use --redis-url for an external server");
}

std::unique_ptr<EmbeddedRedis> EmbeddedRedis::start(const RunDirectory& run,
                                                    const Options& options) {
  std::unique_ptr<EmbeddedRedis> redis(new EmbeddedRedis());
  const fs::path binary = find_redis_server();
  if (options.port) require_free_loopback_port(*options.port);
  // A restart after an outage reuses the directory of the first start.
  const fs::path existing = run.path() / "redis";
  const fs::path dir = fs::is_directory(existing) ? existing : run.make_subdirectory("redis", 0700);
  const fs::path log = run.path() / "redis.log";
  for (int attempt = 1;; ++attempt) {
    const std::uint16_t port = options.port.value_or(pick_free_loopback_port());
    try {
      redis->process_.emplace(start_on(binary, run, dir, log, port));
      redis->port_ = port;
      return redis;
    } catch (const PortInUse&) {
      if (options.port || attempt == kRedisPortAttempts) throw;
    }
  }
}

RedisUrl EmbeddedRedis::url() const {
  RedisUrl url;
  url.host = "127.0.0.1";
  url.port = port_;
  return url;
}

void EmbeddedRedis::stop() {
  if (process_) {
    process_->stop(SIGTERM, std::chrono::seconds(5));
    process_.reset();
  }
}

}  // namespace orgquake::services
