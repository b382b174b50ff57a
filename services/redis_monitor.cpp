#include "services/redis_monitor.hpp"

#include <cctype>
#include <charconv>
#include <ctime>
#include <poll.h>

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "core/error.hpp"
#include "services/redis_connection.hpp"

namespace orgquake::services {
namespace {

std::int64_t monotonic_now_ns() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/// One argument as Redis's sdscatrepr wrote it: "..." with \\ \" \n \r \t
/// \a \b and \xHH escapes. Advances `at` past it; false if malformed.
bool read_quoted(std::string_view line, std::size_t& at, std::string& out) {
  if (at >= line.size() || line[at] != '"') return false;
  ++at;
  out.clear();
  while (at < line.size()) {
    const char c = line[at++];
    if (c == '"') return true;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (at >= line.size()) return false;
    const char e = line[at++];
    switch (e) {
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'a':
        out.push_back('\a');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'x': {
        if (at + 2 > line.size()) return false;
        const int hi = hex_digit(line[at]), lo = hex_digit(line[at + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<char>(hi * 16 + lo));
        at += 2;
        break;
      }
      default:
        out.push_back(e);  // \\ and \"
    }
  }
  return false;
}

}  // namespace

std::optional<MonitorLine> parse_monitor_line(std::string_view line) {
  MonitorLine parsed;
  // "<seconds>.<microseconds> "
  const auto dot = line.find('.');
  const auto space = line.find(' ');
  if (dot == std::string_view::npos || space == std::string_view::npos || dot > space ||
      space - dot != 7) {
    return std::nullopt;
  }
  std::int64_t seconds = 0, micros = 0;
  if (std::from_chars(line.data(), line.data() + dot, seconds).ec != std::errc() ||
      std::from_chars(line.data() + dot + 1, line.data() + space, micros).ec != std::errc()) {
    return std::nullopt;
  }
  parsed.server_time_us = seconds * 1'000'000 + micros;
  // "[<db> <source>] "
  std::size_t at = space + 1;
  if (at >= line.size() || line[at] != '[') return std::nullopt;
  const auto close = line.find("] ", at);
  if (close == std::string_view::npos) return std::nullopt;
  const auto bracket = line.substr(at + 1, close - at - 1);
  const auto db_end = bracket.find(' ');
  if (db_end == std::string_view::npos) return std::nullopt;
  parsed.source = std::string(bracket.substr(db_end + 1));
  at = close + 2;
  std::string arg;
  while (at < line.size()) {
    if (!read_quoted(line, at, arg)) return std::nullopt;
    parsed.args.push_back(arg);
    if (at < line.size() && line[at] == ' ') ++at;
  }
  if (parsed.args.empty()) return std::nullopt;
  return parsed;
}

RedisMonitor RedisMonitor::connect(const RedisUrl& url, std::chrono::milliseconds timeout) {
  auto connection = RedisConnection::connect(url, timeout);
  const std::int64_t before = monotonic_now_ns();
  const auto time = connection.command_strings({"TIME"});
  const std::int64_t after = monotonic_now_ns();
  std::int64_t seconds = 0, micros = 0;
  if (time.size() != 2 ||
      std::from_chars(time[0].data(), time[0].data() + time[0].size(), seconds).ec != std::errc() ||
      std::from_chars(time[1].data(), time[1].data() + time[1].size(), micros).ec != std::errc()) {
    throw EnvironmentError("Redis TIME did not answer [seconds, microseconds]");
  }
  RedisMonitor monitor(std::move(connection));
  // The server's clock read halfway through the round trip.
  monitor.server_minus_monotonic_ns_ =
      (seconds * 1'000'000 + micros) * 1000 - (before + (after - before) / 2);
  if (monitor.connection_.command_status({"MONITOR"}) != "OK") {
    throw EnvironmentError("Redis MONITOR did not answer OK");
  }
  return monitor;
}

std::optional<std::string> RedisMonitor::next_line(std::chrono::milliseconds wait) {
  redisContext* c = connection_.context_.get();
  for (bool waited = false;;) {
    void* raw = nullptr;
    if (redisGetReplyFromReader(c, &raw) != REDIS_OK) {
      throw EnvironmentError(fmt::format("the Redis monitor stream broke: {}", c->errstr));
    }
    if (raw != nullptr) {
      auto* reply = static_cast<redisReply*>(raw);
      std::optional<std::string> line;
      if (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING) {
        line.emplace(reply->str, reply->len);
      }
      freeReplyObject(reply);
      if (line) return line;
      continue;
    }
    if (waited) return std::nullopt;
    pollfd fd{c->fd, POLLIN, 0};
    const int ready = ::poll(&fd, 1, static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) throw EnvironmentError("poll on the Redis monitor failed");
    if (ready <= 0) return std::nullopt;
    if (redisBufferRead(c) != REDIS_OK) {
      throw EnvironmentError(fmt::format("the Redis monitor connection was lost: {}",
                                         c->errstr[0] != '\0' ? c->errstr : "closed"));
    }
    waited = true;
  }
}

}  // namespace orgquake::services
