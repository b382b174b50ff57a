#pragma once

// Boost 1.74 under C++20: <utility> must precede Asio's awaitable header.
#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace orgquake::fakes {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

struct ServerOptions {
  std::string address = "127.0.0.1";
  std::uint16_t port = 0;                  ///< 0 picks an ephemeral port; see HttpServer::port()
  std::size_t body_limit = 1 << 20;        ///< larger bodies get 413 and the connection closes
  std::size_t header_limit = 16 << 10;     ///< larger headers get 431
  std::chrono::seconds idle_timeout{300};  ///< an idle keep-alive connection closes after this
};

class Session;

/// One request waiting for its fate. The handler must end it exactly once:
/// respond(), reset() or hold(); it may first wait with after().
class Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<Session> session, Request request, std::uint64_t connection_id);
  ~Exchange();

  const Request& request() const { return request_; }
  std::uint64_t connection_id() const { return connection_id_; }
  bool finished() const { return finished_; }

  /// Sends the response; the connection then serves its next request (keep-alive).
  void respond(Response response);
  /// Closes the connection abortively (RST), as a crashed load balancer would.
  void reset();
  /// Never answers; the connection stays open until the client gives up and closes it.
  void hold();
  /// Calls `then(true)` after `delay`, or `then(false)` if the server stops
  /// first. A client that hangs up meanwhile does not cancel the wait: a slow
  /// server finishes its work whether or not anyone still listens.
  void after(std::chrono::milliseconds delay, std::function<void(bool)> then);
  /// Cancels a pending after(); used when the server stops.
  void cancel_timer();
  /// False once the client or the server closed the connection.
  bool connection_open() const;

 private:
  std::shared_ptr<Session> session_;
  Request request_;
  std::uint64_t connection_id_;
  std::unique_ptr<boost::asio::steady_timer> timer_;
  std::uint64_t wait_id_ = 0;
  bool finished_ = false;
};

/// Handles every well-formed request; runs on the server's loop thread.
using Handler = std::function<void(std::shared_ptr<Exchange>)>;
/// Renders the answer to a request that never reached the handler (400
/// malformed, 413 too large, 431 headers too large) in the fake's error format.
using ProtocolErrorRenderer = std::function<Response(http::status, const std::string& message)>;

/// An HTTP/1.1 server on Boost.Beast with one loop thread.
///
/// All handlers and all state they touch run on that one thread, so a fake
/// needs no locks and processes requests in a deterministic order. Other
/// threads reach the state through call(), which posts into the loop.
class HttpServer {
 public:
  HttpServer(ServerOptions options, Handler handler, ProtocolErrorRenderer render_error);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts the loop thread. Throws EnvironmentError, one line,
  /// when the address cannot be bound (e.g. the port is in use).
  void start();
  /// Closes the listener and every connection, then joins the loop thread. Idempotent.
  void stop();

  bool running() const { return thread_.joinable(); }
  std::uint16_t port() const { return port_; }
  std::string url() const;
  boost::asio::io_context& context() { return ioc_; }
  bool on_loop_thread() const { return std::this_thread::get_id() == loop_id_; }

  /// Runs `f` on the loop thread and returns its result (exceptions propagate).
  /// Runs inline when the server is not running or when already on the loop.
  template <class F>
  auto call(F&& f) -> std::invoke_result_t<F&> {
    using Result = std::invoke_result_t<F&>;
    if (!running() || on_loop_thread()) return f();
    std::packaged_task<Result()> task(std::forward<F>(f));
    std::future<Result> result = task.get_future();
    boost::asio::post(ioc_, [&task] { task(); });
    return result.get();
  }

 private:
  friend class Session;
  friend class Exchange;
  void accept();
  void register_session(std::uint64_t id, const std::shared_ptr<Session>& session);
  void unregister_session(std::uint64_t id) { sessions_.erase(id); }

  ServerOptions options_;
  Handler handler_;
  ProtocolErrorRenderer render_error_;
  boost::asio::io_context ioc_{1};
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  std::unordered_map<std::uint64_t, std::weak_ptr<Session>> sessions_;
  std::unordered_map<std::uint64_t, std::weak_ptr<Exchange>> waiting_;  ///< exchanges in after()
  std::uint64_t next_wait_id_ = 1;
  std::uint64_t next_connection_id_ = 1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::thread::id loop_id_;
};

}  // namespace orgquake::fakes
