#pragma once

// Boost 1.74 under C++20: <utility> must precede Asio's awaitable header.
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/beast/http/verb.hpp>
#include <nlohmann/json.hpp>

namespace orgquake::fakes::test {

namespace beast = boost::beast;
namespace http = beast::http;

/// What a client got back, or how it failed.
struct Reply {
  int status = 0;  ///< 0 when no response arrived
  std::string body;
  std::map<std::string, std::string> headers;
  std::string error;  ///< "reset", "eof", "timeout" or another message when status is 0

  nlohmann::json json() const { return nlohmann::json::parse(body); }
  std::string header(const std::string& name) const {
    const auto it = headers.find(name);
    return it == headers.end() ? std::string{} : it->second;
  }
};

/// A synchronous keep-alive HTTP/1.1 client for tests, with a read timeout
/// (so a held request ends the test instead of hanging it). Its Beast and
/// Asio code lives in http_test_client.cpp, compiled once for every suite
/// that uses it.
class TestClient {
 public:
  explicit TestClient(std::uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000));
  ~TestClient();
  TestClient(TestClient&&) noexcept;
  TestClient& operator=(TestClient&&) noexcept;

  Reply request(http::verb method, const std::string& target, const std::string& body = {},
                const std::map<std::string, std::string>& headers = {});

  Reply get(const std::string& target, const std::map<std::string, std::string>& headers = {}) {
    return request(http::verb::get, target, {}, headers);
  }
  Reply post(const std::string& target, const std::string& body,
             const std::map<std::string, std::string>& headers = {}) {
    return request(http::verb::post, target, body, headers);
  }
  Reply del(const std::string& target, const std::map<std::string, std::string>& headers = {}) {
    return request(http::verb::delete_, target, {}, headers);
  }

  /// Sends raw bytes on a new connection and reads one response (or failure).
  Reply raw(const std::string& bytes);

 private:
  class Connection;
  std::unique_ptr<Connection> connection_;
};

}  // namespace orgquake::fakes::test
