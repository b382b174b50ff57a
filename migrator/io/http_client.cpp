#include "migrator/io/http_client.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <fmt/format.h>

namespace orgquake::io {
namespace http = boost::beast::http;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && strncasecmp(a.data(), b.data(), a.size()) == 0;
}

std::optional<std::string> find_header(const HttpHeaders& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (iequals(key, name)) return value;
  }
  return std::nullopt;
}

void close_fd(int fd) {
  forget(fd);
  ::close(fd);
}

}  // namespace

std::optional<std::string> HttpRequest::header(std::string_view name) const {
  return find_header(headers, name);
}

std::optional<std::string> HttpResponse::header(std::string_view name) const {
  return find_header(headers, name);
}

std::string url_encode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

HttpClient::HttpClient(std::string host, std::uint16_t port, Options options)
    : host_(std::move(host)), port_(port), options_(options) {}

HttpClient::~HttpClient() {
  for (int fd : idle_) close_fd(fd);
}

int HttpClient::open_connection(Deadline deadline) {
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port_);
  if (inet_pton(AF_INET, host_.c_str(), &address.sin_addr) != 1) {
    // Names are resolved once per connection; the fakes and proxies this
    // talks to are addressed by IP in tests, so a blocking lookup is rare.
    addrinfo hints{};
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (getaddrinfo(host_.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
      throw HttpError(HttpError::Kind::connect, false, "cannot resolve host " + host_);
    }
    address.sin_addr = reinterpret_cast<sockaddr_in*>(found->ai_addr)->sin_addr;
    freeaddrinfo(found);
  }
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw HttpError(HttpError::Kind::connect, false, std::strerror(errno));
  // Requests are small and answered one at a time: Nagle's delay would add
  // tens of milliseconds to each keep-alive exchange.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  const std::string where = fmt::format("{}:{}", host_, port_);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    if (errno != EINPROGRESS) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      throw HttpError(HttpError::Kind::connect, false, "cannot connect to " + where + ": " + why);
    }
    const Deadline connect_deadline = after(options_.connect_timeout);
    const Deadline effective =
        deadline && connect_deadline ? std::min(*deadline, *connect_deadline) : connect_deadline;
    if (!wait_for(fd, Interest::writable, effective)) {
      close_fd(fd);
      throw HttpError(HttpError::Kind::timeout, false, "timed out connecting to " + where);
    }
    int error = 0;
    socklen_t length = sizeof error;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length);
    if (error != 0) {
      close_fd(fd);
      throw HttpError(HttpError::Kind::connect, false,
                      "cannot connect to " + where + ": " + std::strerror(error));
    }
  }
  return fd;
}

void HttpClient::release(int fd, bool keep_alive) {
  if (keep_alive && idle_.size() < options_.max_idle_connections) {
    idle_.push_back(fd);
  } else {
    close_fd(fd);
  }
}

HttpResponse HttpClient::exchange(int fd, const std::string& wire, const HttpRequest& request,
                                  Deadline deadline, bool& sent, bool& keep_alive,
                                  bool& got_bytes) {
  const std::string where =
      fmt::format("{} {} at {}:{}", request.method, request.target, host_, port_);
  std::size_t written = 0;
  while (written < wire.size()) {
    const ssize_t n = ::send(fd, wire.data() + written, wire.size() - written, MSG_NOSIGNAL);
    if (n > 0) {
      written += static_cast<std::size_t>(n);
      sent = true;
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, Interest::writable, deadline)) {
        throw HttpError(HttpError::Kind::timeout, sent, "timed out sending " + where);
      }
      continue;
    }
    throw HttpError(HttpError::Kind::reset, sent, "connection lost sending " + where);
  }

  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_response_bytes);
  if (request.method == "HEAD") parser.skip(true);
  char buffer[16384];
  std::string pending;  // bytes read but not yet consumed by the parser
  while (!parser.is_done()) {
    const ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!wait_for(fd, Interest::readable, deadline)) {
        throw HttpError(HttpError::Kind::timeout, true,
                        "timed out waiting for the response to " + where);
      }
      continue;
    }
    boost::beast::error_code ec;
    if (n <= 0) {
      if (n == 0 && got_bytes) {
        parser.put_eof(ec);  // a body delimited by the end of the connection
        if (!ec && parser.is_done()) break;
      }
      throw HttpError(HttpError::Kind::reset, true,
                      "connection lost waiting for the response to " + where);
    }
    got_bytes = true;
    pending.append(buffer, static_cast<std::size_t>(n));
    while (!pending.empty() && !parser.is_done()) {
      const std::size_t used = parser.put(boost::asio::buffer(pending), ec);
      pending.erase(0, used);
      if (ec == http::error::need_more) break;
      if (ec) {
        throw HttpError(HttpError::Kind::protocol, true,
                        "malformed response to " + where + ": " + ec.message());
      }
      if (used == 0) break;
    }
  }
  auto& message = parser.get();
  HttpResponse response;
  response.status = static_cast<int>(message.result_int());
  for (const auto& field : message) {
    response.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  response.body = std::move(message.body());
  keep_alive = message.keep_alive() && pending.empty();
  return response;
}

void HttpClient::set_header(const std::string& name, const std::string& value) {
  std::erase_if(every_request_, [&](const auto& header) { return header.first == name; });
  if (!value.empty()) every_request_.emplace_back(name, value);
}

HttpResponse HttpClient::send(const HttpRequest& request) {
  std::string wire = fmt::format("{} {} HTTP/1.1\r\nHost: {}:{}\r\n", request.method,
                                 request.target, host_, port_);
  for (const auto& [key, value] : every_request_) wire += key + ": " + value + "\r\n";
  for (const auto& [key, value] : request.headers) wire += key + ": " + value + "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    wire += fmt::format("Content-Length: {}\r\n", request.body.size());
  }
  wire += "\r\n";
  wire += request.body;

  const bool repeatable = request.method == "GET" || request.method == "HEAD" ||
                          request.header("Idempotency-Key").has_value();
  const Deadline deadline = after(options_.request_timeout);
  for (int attempt = 0;; ++attempt) {
    const bool reused = !idle_.empty();
    int fd = reused ? idle_.back() : open_connection(deadline);
    if (reused) idle_.pop_back();
    bool sent = false, keep_alive = false, got_bytes = false;
    try {
      HttpResponse response = exchange(fd, wire, request, deadline, sent, keep_alive, got_bytes);
      release(fd, keep_alive);
      return response;
    } catch (const HttpError& e) {
      close_fd(fd);
      // A kept-alive connection the server closed while idle fails at once
      // with no response byte: the request never reached the application.
      const bool stale = reused && !got_bytes && e.kind() == HttpError::Kind::reset;
      if (stale && repeatable && attempt == 0) continue;
      throw;
    }
  }
}

}  // namespace orgquake::io
