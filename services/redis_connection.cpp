#include "services/redis_connection.hpp"

#include <fmt/format.h>
#include <hiredis/hiredis.h>

#include "core/error.hpp"

namespace orgquake::services {
namespace {

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

Reply run(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (!reply) {
    throw EnvironmentError(fmt::format("Redis command {} failed: {}", args.front(), c->errstr));
  }
  if (reply->type == REDIS_REPLY_ERROR) {
    throw EnvironmentError(fmt::format("Redis command {} failed: {}", args.front(),
                                       std::string(reply->str, reply->len)));
  }
  return reply;
}

}  // namespace

void RedisConnection::Free::operator()(redisContext* c) const {
  redisFree(c);
}

RedisConnection RedisConnection::connect(const RedisUrl& url, std::chrono::milliseconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  redisContext* raw = redisConnectWithTimeout(url.host.c_str(), url.port, tv);
  if (raw == nullptr) throw EnvironmentError("cannot allocate a Redis connection");
  RedisConnection connection(raw);
  if (raw->err != 0) {
    throw EnvironmentError(
        fmt::format("cannot connect to Redis at {}: {}", url.display(), raw->errstr));
  }
  redisSetTimeout(raw, tv);
  if (!url.password.empty()) {
    if (url.user.empty()) {
      run(raw, {"AUTH", url.password});
    } else {
      run(raw, {"AUTH", url.user, url.password});
    }
  }
  if (url.database != 0) run(raw, {"SELECT", std::to_string(url.database)});
  return connection;
}

long long RedisConnection::command_integer(const std::vector<std::string>& args) {
  Reply reply = run(context_.get(), args);
  if (reply->type != REDIS_REPLY_INTEGER) {
    throw EnvironmentError(fmt::format("Redis command {} gave no integer", args.front()));
  }
  return reply->integer;
}

std::string RedisConnection::command_status(const std::vector<std::string>& args) {
  Reply reply = run(context_.get(), args);
  if (reply->type == REDIS_REPLY_STATUS || reply->type == REDIS_REPLY_STRING) {
    return std::string(reply->str, reply->len);
  }
  return {};
}

std::vector<std::string> RedisConnection::command_strings(const std::vector<std::string>& args) {
  Reply reply = run(context_.get(), args);
  std::vector<std::string> strings;
  if (reply->type != REDIS_REPLY_ARRAY) return strings;
  for (std::size_t i = 0; i < reply->elements; ++i) {
    const redisReply* element = reply->element[i];
    if (element->type == REDIS_REPLY_STRING || element->type == REDIS_REPLY_STATUS) {
      strings.emplace_back(element->str, element->len);
    }
  }
  return strings;
}

}  // namespace orgquake::services
