#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "migrator/io/reactor.hpp"

namespace orgquake::io {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";  ///< path and query, already encoded
  HttpHeaders headers;
  std::string body;

  /// The first header of that name (case-insensitive), if any.
  std::optional<std::string> header(std::string_view name) const;
};

struct HttpResponse {
  int status = 0;
  HttpHeaders headers;
  std::string body;

  std::optional<std::string> header(std::string_view name) const;
};

/// The exchange failed before a complete response arrived: refused, reset,
/// timed out, or a malformed response. Whether the server applied the request
/// is unknown (`maybe_applied`) once the request was sent: a retry must then
/// be safe to repeat, as with an Idempotency-Key.
class HttpError : public std::runtime_error {
 public:
  enum class Kind { connect, timeout, reset, protocol };
  HttpError(Kind kind, bool maybe_applied, const std::string& message)
      : std::runtime_error(message), kind_(kind), maybe_applied_(maybe_applied) {}
  Kind kind() const { return kind_; }
  bool maybe_applied() const { return maybe_applied_; }

 private:
  Kind kind_;
  bool maybe_applied_;
};

/// An HTTP/1.1 client for one server (host:port) with keep-alive connections,
/// whose waits suspend only the calling fiber. Use one per thread: fibers of
/// that thread share its idle connections.
class HttpClient {
 public:
  struct Options {
    std::chrono::milliseconds connect_timeout{2000};
    std::chrono::milliseconds request_timeout{5000};
    std::size_t max_idle_connections = 64;
    std::size_t max_response_bytes = 16 * 1024 * 1024;
  };

  HttpClient(std::string host, std::uint16_t port, Options options);
  HttpClient(std::string host, std::uint16_t port) : HttpClient(std::move(host), port, Options{}) {}
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  /// Sends `request` (Host, Content-Length and keep-alive are added) and
  /// returns the response, whatever its status. A reused connection that the
  /// server had closed meanwhile is retried once on a new connection, but only
  /// for requests safe to repeat (GET/HEAD, or carrying an Idempotency-Key).
  HttpResponse send(const HttpRequest& request);

  const std::string& host() const { return host_; }
  std::uint16_t port() const { return port_; }

  /// A header sent with every request from now on (replacing one of that
  /// name); an empty value stops sending it. The worker tags each request
  /// with the operation it serves this way.
  void set_header(const std::string& name, const std::string& value);

 private:
  int open_connection(Deadline deadline);
  HttpResponse exchange(int fd, const std::string& wire, const HttpRequest& request,
                        Deadline deadline, bool& sent, bool& keep_alive, bool& got_bytes);
  void release(int fd, bool keep_alive);

  std::string host_;
  std::uint16_t port_;
  Options options_;
  std::vector<int> idle_;
  HttpHeaders every_request_;
};

/// Percent-encodes a query or form component (RFC 3986 unreserved kept).
std::string url_encode(std::string_view text);

}  // namespace orgquake::io
