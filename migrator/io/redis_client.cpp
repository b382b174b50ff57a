#include "migrator/io/redis_client.hpp"

#include <cstring>
#include <string>
#include <sys/socket.h>
#include <utility>

#include <hiredis/hiredis.h>

namespace orgquake::io {
namespace {

RedisReply flatten(const redisReply* r) {
  RedisReply out;
  switch (r->type) {
    case REDIS_REPLY_INTEGER:
      out.kind = RedisReply::Kind::integer;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_STRING:
    case REDIS_REPLY_STATUS:
      out.kind = RedisReply::Kind::text;
      out.text.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ARRAY:
      out.kind = RedisReply::Kind::array;
      for (std::size_t i = 0; i < r->elements; ++i) out.elements.push_back(flatten(r->element[i]));
      break;
    default:
      break;  // nil
  }
  return out;
}

}  // namespace

RedisClient RedisClient::connect(const RedisEndpoint& endpoint, Deadline deadline) {
  redisContext* raw = redisConnectNonBlock(endpoint.host.c_str(), endpoint.port);
  if (raw == nullptr) throw RedisUnavailable("cannot allocate a Redis connection");
  RedisClient client(raw);
  if (raw->err != 0) client.fail("cannot connect to Redis");
  if (!wait_for(raw->fd, Interest::writable, deadline)) {
    client.close();
    throw RedisUnavailable("timed out connecting to Redis at " + endpoint.host + ":" +
                           std::to_string(endpoint.port));
  }
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(raw->fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0 || error != 0) {
    const std::string why = std::strerror(error != 0 ? error : errno);
    client.close();
    throw RedisUnavailable("cannot connect to Redis at " + endpoint.host + ":" +
                           std::to_string(endpoint.port) + ": " + why);
  }
  raw->flags |= REDIS_CONNECTED;
  if (!endpoint.password.empty()) client.command({"AUTH", endpoint.password}, deadline);
  if (endpoint.database != 0) {
    client.command({"SELECT", std::to_string(endpoint.database)}, deadline);
  }
  if (!endpoint.client_name.empty()) {
    client.command({"CLIENT", "SETNAME", endpoint.client_name}, deadline);
  }
  return client;
}

RedisClient::RedisClient(RedisClient&& other) noexcept : context_(other.context_) {
  other.context_ = nullptr;
}

RedisClient& RedisClient::operator=(RedisClient&& other) noexcept {
  if (this != &other) {
    close();
    context_ = std::exchange(other.context_, nullptr);
  }
  return *this;
}

RedisClient::~RedisClient() {
  close();
}

void RedisClient::close() {
  if (context_ == nullptr) return;
  forget(context_->fd);
  redisFree(context_);
  context_ = nullptr;
}

void RedisClient::fail(const std::string& what) {
  const std::string message = what + ": " + (context_ ? context_->errstr : "closed");
  close();
  throw RedisUnavailable(message);
}

RedisReply RedisClient::command(const std::vector<std::string_view>& args, Deadline deadline) {
  if (context_ == nullptr) throw RedisUnavailable("the Redis connection is closed");
  std::vector<const char*> argv;
  std::vector<std::size_t> lengths;
  for (auto a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  if (redisAppendCommandArgv(context_, static_cast<int>(argv.size()), argv.data(),
                             lengths.data()) != REDIS_OK) {
    fail("cannot queue a Redis command");
  }
  for (int done = 0; !done;) {
    if (redisBufferWrite(context_, &done) != REDIS_OK) fail("cannot send to Redis");
    if (!done && !wait_for(context_->fd, Interest::writable, deadline)) {
      close();
      throw RedisUnavailable("timed out sending to Redis");
    }
  }
  void* raw = nullptr;
  for (;;) {
    if (redisGetReplyFromReader(context_, &raw) != REDIS_OK) fail("bad reply from Redis");
    if (raw != nullptr) break;
    if (!wait_for(context_->fd, Interest::readable, deadline)) {
      close();
      throw RedisUnavailable("timed out waiting for Redis");
    }
    if (redisBufferRead(context_) != REDIS_OK) fail("lost the Redis connection");
  }
  std::unique_ptr<redisReply, void (*)(void*)> reply(static_cast<redisReply*>(raw),
                                                     freeReplyObject);
  if (reply->type == REDIS_REPLY_ERROR) {
    throw RedisErrorReply(std::string(reply->str, reply->len));
  }
  return flatten(reply.get());
}

}  // namespace orgquake::io
