#include "tests/fakes/http_test_client.hpp"

#include <optional>
#include <type_traits>
#include <utility>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace orgquake::fakes::test {

using tcp = boost::asio::ip::tcp;

class TestClient::Connection {
 public:
  Connection(std::uint16_t port, std::chrono::milliseconds timeout)
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

TestClient::TestClient(std::uint16_t port, std::chrono::milliseconds timeout)
    : connection_(std::make_unique<Connection>(port, timeout)) {}
TestClient::~TestClient() = default;
TestClient::TestClient(TestClient&&) noexcept = default;
TestClient& TestClient::operator=(TestClient&&) noexcept = default;

Reply TestClient::request(http::verb method, const std::string& target, const std::string& body,
                          const std::map<std::string, std::string>& headers) {
  return connection_->request(method, target, body, headers);
}

Reply TestClient::raw(const std::string& bytes) {
  return connection_->raw(bytes);
}

}  // namespace orgquake::fakes::test
