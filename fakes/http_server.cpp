#include "fakes/http_server.hpp"

#include <array>
#include <cerrno>
#include <optional>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>

#include <boost/asio/socket_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::fakes {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

/// One accepted connection: reads requests one at a time, hands each to the
/// handler through an Exchange, writes the answer, and reads the next.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(HttpServer& server, tcp::socket socket, std::uint64_t id)
      : server_(server), stream_(std::move(socket)), id_(id) {}

  void start() { read_request(); }

  void send(Response response) {
    if (closed_) return;
    response_ = std::move(response);
    response_.prepare_payload();
    const bool close_after = response_.need_eof();
    stream_.expires_never();
    http::async_write(stream_, response_,
                      [self = shared_from_this(), close_after](beast::error_code ec, std::size_t) {
                        self->on_write(ec, close_after);
                      });
  }

  void reset() {
    if (closed_) return;
    beast::error_code ignored;
    // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
    stream_.socket().set_option(asio::socket_base::linger(true, 0), ignored);
    close();
  }

  void hold() {
    if (closed_) return;
    stream_.expires_after(server_.options_.idle_timeout);
    // Wait for the client to give up; whatever it sends meanwhile is dropped.
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) {
                                self->close();
                              } else {
                                self->hold();
                              }
                            });
  }

  /// Closes the socket; pending operations complete with operation_aborted.
  void close() {
    if (closed_) return;
    closed_ = true;
    beast::error_code ignored;
    stream_.socket().close(ignored);
    server_.unregister_session(id_);
  }

  /// True once the peer has closed its side or reset the connection, as
  /// seen without consuming any pipelined bytes.
  bool peer_gone() {
    if (closed_) return true;
    char byte = 0;
    const auto n = ::recv(stream_.socket().native_handle(), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

  asio::any_io_executor executor() { return stream_.get_executor(); }
  HttpServer& server() { return server_; }
  bool closed() const { return closed_; }

 private:
  void read_request() {
    parser_.emplace();
    parser_->body_limit(server_.options_.body_limit);
    parser_->header_limit(static_cast<std::uint32_t>(server_.options_.header_limit));
    stream_.expires_after(server_.options_.idle_timeout);
    http::async_read_header(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_header(ec); });
  }

  void on_header(beast::error_code ec) {
    if (closed_) return;
    if (ec || parser_->is_done()) {
      on_read(ec);
      return;
    }
    // curl sends "Expect: 100-continue" before a larger body and stalls a
    // second unless told to go on.
    if (beast::iequals(parser_->get()[http::field::expect], "100-continue")) {
      static constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
      asio::async_write(stream_, asio::buffer(kContinue.data(), kContinue.size()),
                        [self = shared_from_this()](beast::error_code write_ec, std::size_t) {
                          if (write_ec) {
                            self->close();
                          } else {
                            self->read_body();
                          }
                        });
      return;
    }
    read_body();
  }

  void read_body() {
    http::async_read(
        stream_, buffer_, *parser_,
        [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (closed_) return;
    if (ec) {
      if (ec == http::error::body_limit) {
        send_protocol_error(http::status::payload_too_large,
                            fmt::format("Request body too large: the limit is {} bytes",
                                        server_.options_.body_limit));
      } else if (ec == http::error::header_limit) {
        send_protocol_error(http::status::request_header_fields_too_large,
                            "Request header fields too large");
      } else if (ec.category() == http::make_error_code(http::error::bad_method).category() &&
                 ec != http::error::end_of_stream && ec != http::error::partial_message) {
        send_protocol_error(http::status::bad_request,
                            fmt::format("Malformed HTTP request: {}", ec.message()));
      } else {
        close();  // peer closed, timed out, or the server is stopping
      }
      return;
    }
    auto exchange = std::make_shared<Exchange>(shared_from_this(), parser_->release(), id_);
    try {
      server_.handler_(exchange);
    } catch (const std::exception& e) {
      // A bug in a fake must cost one request, not the server thread.
      exchange->respond(
          server_.render_error_(http::status::internal_server_error,
                                fmt::format("internal error in the fake: {}", e.what())));
    }
  }

  void send_protocol_error(http::status status, const std::string& message) {
    Response response = server_.render_error_(status, message);
    response.keep_alive(false);  // the byte stream is out of sync; nothing after it can be trusted
    send(std::move(response));
  }

  void on_write(beast::error_code ec, bool close_after) {
    if (closed_) return;
    if (ec) {
      close();
      return;
    }
    if (close_after) {
      linger_close();
      return;
    }
    read_request();
  }

  /// Closing a socket with unread input sends RST, which can destroy the
  /// response still in flight (a 413 answered before the body arrived).
  /// So: send FIN, drain what the client still sends, close on its FIN or
  /// after a second.
  void linger_close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(std::chrono::seconds(1));
    drain();
  }

  void drain() {
    stream_.async_read_some(asio::buffer(scratch_),
                            [self = shared_from_this()](beast::error_code ec, std::size_t) {
                              if (ec) {
                                self->close();
                              } else {
                                self->drain();
                              }
                            });
  }

  HttpServer& server_;
  beast::tcp_stream stream_;
  std::uint64_t id_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Response response_;
  std::array<char, 512> scratch_{};
  bool closed_ = false;
};

Exchange::Exchange(std::shared_ptr<Session> session, Request request, std::uint64_t connection_id)
    : session_(std::move(session)), request_(std::move(request)), connection_id_(connection_id) {}

Exchange::~Exchange() {
  // A handler that forgot to answer would leave the client hanging forever
  // without telling anyone; close the connection so the mistake is visible.
  if (!finished_ && session_) session_->close();
}

void Exchange::respond(Response response) {
  if (finished_) return;
  finished_ = true;
  session_->send(std::move(response));
}

void Exchange::reset() {
  if (finished_) return;
  finished_ = true;
  session_->reset();
}

void Exchange::hold() {
  if (finished_) return;
  finished_ = true;
  session_->hold();
}

void Exchange::after(std::chrono::milliseconds delay, std::function<void(bool)> then) {
  HttpServer& server = session_->server();
  if (!server.acceptor_.is_open()) {
    then(false);  // the server is stopping
    return;
  }
  wait_id_ = server.next_wait_id_++;
  server.waiting_.emplace(wait_id_, weak_from_this());
  timer_ = std::make_unique<asio::steady_timer>(session_->executor(), delay);
  timer_->async_wait([self = shared_from_this(), then = std::move(then)](beast::error_code ec) {
    self->session_->server().waiting_.erase(self->wait_id_);
    try {
      then(!ec);
    } catch (const std::exception& e) {
      self->respond(self->session_->server().render_error_(
          http::status::internal_server_error,
          fmt::format("internal error in the fake: {}", e.what())));
    }
  });
}

bool Exchange::connection_open() const {
  return !session_->peer_gone();
}

void Exchange::cancel_timer() {
  if (timer_) timer_->cancel();
}

HttpServer::HttpServer(ServerOptions options, Handler handler, ProtocolErrorRenderer render_error)
    : options_(std::move(options)),
      handler_(std::move(handler)),
      render_error_(std::move(render_error)) {}

HttpServer::~HttpServer() {
  stop();
}

std::string HttpServer::url() const {
  return fmt::format("http://{}:{}", options_.address, port_);
}

void HttpServer::start() {
  if (running()) return;
  beast::error_code ec;
  const auto address = asio::ip::make_address(options_.address, ec);
  if (ec) throw EnvironmentError(fmt::format("fake server: bad address '{}'", options_.address));
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    throw EnvironmentError(
        fmt::format("fake server: cannot listen on {}:{}: {} (pick another port)", options_.address,
                    options_.port, ec.message()));
  }
  port_ = acceptor_.local_endpoint().port();
  ioc_.restart();  // after a stop(), run() needs this to serve again
  accept();
  std::promise<void> started;
  auto ready = started.get_future();
  thread_ = std::thread([this, &started] {
    // Stop signals belong to the thread that waits for them (the CLI's main
    // thread); a signal delivered here would never wake it.
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, signal);
    pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
    loop_id_ = std::this_thread::get_id();
    started.set_value();
    ioc_.run();
  });
  ready.wait();
}

void HttpServer::stop() {
  if (!running()) return;
  asio::post(ioc_, [this] {
    beast::error_code ignored;
    acceptor_.close(ignored);
    // Copy first: closing a session unregisters it from the map.
    std::vector<std::shared_ptr<Session>> open;
    for (auto& [id, weak] : sessions_) {
      if (auto session = weak.lock()) open.push_back(std::move(session));
    }
    for (auto& session : open) session->close();
    sessions_.clear();
    std::vector<std::shared_ptr<Exchange>> waiting;
    for (auto& [id, weak] : waiting_) {
      if (auto exchange = weak.lock()) waiting.push_back(std::move(exchange));
    }
    for (auto& exchange : waiting) exchange->cancel_timer();
  });
  // With the listener and every socket closed, run() returns once the aborted
  // operations have completed.
  thread_.join();
  loop_id_ = {};
}

void HttpServer::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) {
      if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
      accept();  // e.g. EMFILE: keep serving the connections we have
      return;
    }
    beast::error_code ignored;
    // Without TCP_NODELAY a keep-alive client waits out Nagle + delayed ACK.
    socket.set_option(tcp::no_delay(true), ignored);
    const std::uint64_t id = next_connection_id_++;
    auto session = std::make_shared<Session>(*this, std::move(socket), id);
    register_session(id, session);
    session->start();
    accept();
  });
}

void HttpServer::register_session(std::uint64_t id, const std::shared_ptr<Session>& session) {
  sessions_.emplace(id, session);
}

}  // namespace orgquake::fakes
