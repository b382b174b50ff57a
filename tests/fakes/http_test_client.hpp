#pragma once

// Boost 1.74 under C++20: <utility> must precede Asio's awaitable header.
#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

namespace orgquake::fakes::test {

namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

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
/// (so a held request ends the test instead of hanging it).
class TestClient {
 public:
  explicit TestClient(std::uint16_t port,
                      std::chrono::milliseconds timeout = std::chrono::milliseconds(5000))
      : port_(port), timeout_(timeout) {}

  Reply request(http::verb method, const std::string& target, const std::string& body = {},
                const std::map<std::string, std::string>& headers = {}) {
    if (!stream_ || !open_) connect();
    http::request<http::string_body> req{method, target, 11};
    req.set(http::field::host, "127.0.0.1");
    req.keep_alive(true);
    for (const auto& [name, value] : headers) req.set(name, value);
    if (method == http::verb::post && !body.empty() &&
        headers.find("Content-Type") == headers.end()) {
      req.set(http::field::content_type, "application/x-www-form-urlencoded");
    }
    req.body() = body;
    req.prepare_payload();
    Reply reply;
    http::response<http::string_body> res;
    const beast::error_code ec = exchange(req, res);
    if (ec) return fail(reply, ec);
    reply.status = static_cast<int>(res.result_int());
    reply.body = res.body();
    for (const auto& field : res) {
      reply.headers[std::string(field.name_string())] = std::string(field.value());
    }
    if (!res.keep_alive()) open_ = false;
    return reply;
  }

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
  Reply raw(const std::string& bytes) {
    connect();
    Reply reply;
    http::response<http::string_body> res;
    const beast::error_code ec = exchange(bytes, res);
    if (ec) return fail(reply, ec);
    reply.status = static_cast<int>(res.result_int());
    reply.body = res.body();
    open_ = false;
    return reply;
  }

 private:
  /// Writes `out` and reads one response, giving up after the timeout.
  /// Asynchronous underneath: Beast's stream timeouts apply to async calls only.
  template <class Out>
  beast::error_code exchange(Out& out, http::response<http::string_body>& res) {
    beast::error_code result = boost::asio::error::would_block;
    stream_->expires_after(timeout_);
    auto on_read = [&](beast::error_code ec, std::size_t) { result = ec; };
    auto on_write = [&](beast::error_code ec, std::size_t) {
      if (ec) {
        result = ec;
        return;
      }
      http::async_read(*stream_, buffer_, res, on_read);
    };
    if constexpr (std::is_same_v<Out, const std::string>) {
      boost::asio::async_write(stream_->socket(), boost::asio::buffer(out), on_write);
    } else {
      http::async_write(*stream_, out, on_write);
    }
    ioc_.restart();
    ioc_.run();
    return result;
  }

  void connect() {
    stream_.emplace(ioc_);
    buffer_.clear();
    stream_->connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port_));
    stream_->socket().set_option(tcp::no_delay(true));
    open_ = true;
  }

  Reply fail(Reply& reply, const beast::error_code& ec) {
    open_ = false;
    if (ec == boost::asio::error::connection_reset) {
      reply.error = "reset";
    } else if (ec == http::error::end_of_stream || ec == boost::asio::error::eof) {
      reply.error = "eof";
    } else if (ec == beast::error::timeout) {
      reply.error = "timeout";
    } else {
      reply.error = ec.message();
    }
    return reply;
  }

  boost::asio::io_context ioc_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
  std::uint16_t port_;
  std::chrono::milliseconds timeout_;
  bool open_ = false;
};

}  // namespace orgquake::fakes::test
