#include "services/session_pool.hpp"

#include <algorithm>
#include <arpa/inet.h>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "core/error.hpp"
#include "core/one_line.hpp"
#include "services/pg_wire.hpp"

namespace orgquake::services {
namespace {

using namespace std::chrono_literals;

// The application_name of a pooled session between clients, so that
// pg_stat_activity tells it apart from a client's (DISCARD ALL resets
// application_name to the value the session was opened with).
constexpr const char* kIdleApplicationName = "orgquake-session-pool";
// A client must send its start-up packet within this, or it is dropped: the
// pool never waits on a peer for ever.
constexpr auto kStartupTimeout = 10s;
constexpr std::uint32_t kMaxStartupPacket = 10000;

// What a new client learns about its session, as a server tells it at start-up.
constexpr const char* kReportedParameters[] = {
    "application_name",
    "client_encoding",
    "DateStyle",
    "default_transaction_read_only",
    "in_hot_standby",
    "integer_datetimes",
    "IntervalStyle",
    "is_superuser",
    "server_encoding",
    "server_version",
    "session_authorization",
    "standard_conforming_strings",
    "TimeZone",
};

int remaining_ms(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}

// Reads exactly `size` bytes before `deadline`, or returns false.
bool read_exact(int fd, int stop_fd, char* out, std::size_t size,
                std::chrono::steady_clock::time_point deadline) {
  std::size_t got = 0;
  while (got < size) {
    pollfd fds[2] = {{fd, POLLIN, 0}, {stop_fd, POLLIN, 0}};
    const int ready = ::poll(fds, 2, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0 || (fds[1].revents & POLLIN) != 0) return false;
    const ssize_t n = ::recv(fd, out + got, size - got, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// Writes all of `bytes` (the socket may be non-blocking), or returns false.
bool write_all(int fd, int stop_fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd fds[2] = {{fd, POLLOUT, 0}, {stop_fd, POLLIN, 0}};
      if (::poll(fds, 2, 5000) <= 0 || (fds[1].revents & POLLIN) != 0) return false;
      continue;
    }
    return false;
  }
  return true;
}

// Sends what the non-blocking socket takes of `pending` and drops it from
// there; false when the peer is gone.
bool send_some(int fd, std::string& pending) {
  if (pending.empty()) return true;
  const ssize_t n = ::send(fd, pending.data(), pending.size(), MSG_NOSIGNAL);
  if (n > 0) pending.erase(0, static_cast<std::size_t>(n));
  return n >= 0 || errno == EAGAIN || errno == EINTR;
}

void set_nonblocking(int fd) {
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
}

// The `options` start-up parameter as settings: only `-c name=value` (or
// `-cname=value`, `--name=value`) has a meaning for a pooled session.
std::optional<std::vector<std::pair<std::string, std::string>>> parse_options(
    const std::string& options, std::string& error) {
  std::vector<std::string> words;
  std::string word;
  bool escaped = false;
  for (char c : options) {
    if (escaped) {
      word.push_back(c);
      escaped = false;
    } else if (c == '\\') {
      escaped = true;
    } else if (c == ' ' || c == '\t') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word.push_back(c);
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  std::vector<std::pair<std::string, std::string>> settings;
  for (std::size_t i = 0; i < words.size(); ++i) {
    std::string assignment;
    if (words[i] == "-c" && i + 1 < words.size()) {
      assignment = words[++i];
    } else if (words[i].rfind("-c", 0) == 0 && words[i].size() > 2) {
      assignment = words[i].substr(2);
    } else if (words[i].rfind("--", 0) == 0) {
      assignment = words[i].substr(2);
    } else {
      error = fmt::format("start-up option '{}' (only -c name=value)", words[i]);
      return std::nullopt;
    }
    const auto equals = assignment.find('=');
    if (equals == std::string::npos || equals == 0) {
      error = fmt::format("start-up option '{}' is not name=value", assignment);
      return std::nullopt;
    }
    std::string name = assignment.substr(0, equals);
    for (char& c : name) {
      if (c == '-') c = '_';
    }
    settings.emplace_back(std::move(name), assignment.substr(equals + 1));
  }
  return settings;
}

}  // namespace

struct SessionPool::Session {
  PGconn* conn = nullptr;
  PGcancel* cancel = nullptr;
  Key key;
  std::uint64_t cancel_id = 0;  // while assigned to a client

  ~Session() {
    if (cancel != nullptr) PQfreeCancel(cancel);
    if (conn != nullptr) PQfinish(conn);
  }
  // Sets the client's settings in one round trip; false if the session is gone.
  bool apply(const std::vector<std::pair<std::string, std::string>>& settings, std::string& error) {
    std::string sql = "SELECT 1";
    std::vector<const char*> values;
    for (const auto& [name, value] : settings) {
      sql += fmt::format(", set_config(${}, ${}, false)", values.size() + 1, values.size() + 2);
      values.push_back(name.c_str());
      values.push_back(value.c_str());
    }
    PGresult* result = PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()), nullptr,
                                    values.data(), nullptr, nullptr, 0);
    const bool ok = PQresultStatus(result) == PGRES_TUPLES_OK;
    if (!ok) error = one_line(PQerrorMessage(conn));
    PQclear(result);
    return ok;
  }
};

SessionPool::SessionPool(PgUrl server, std::size_t max_idle)
    : server_(std::move(server)), max_idle_(max_idle) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  stop_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (listen_fd_ < 0 || stop_fd_ < 0) {
    throw EnvironmentError(fmt::format("session pool: socket: {}", std::strerror(errno)));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof address;
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(listen_fd_, 1024) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    const std::string why = std::strerror(errno);
    ::close(listen_fd_);
    ::close(stop_fd_);
    throw EnvironmentError(fmt::format("session pool: cannot listen on 127.0.0.1: {}", why));
  }
  port_ = ntohs(address.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

SessionPool::~SessionPool() {
  stop();
}

PgUrl SessionPool::client_url(const std::string& database) const {
  PgUrl url = PgUrl::loopback(port_, server_.user(), database);
  // A pool's clients never need TLS on loopback, and the relay cannot carry it.
  return url.with("sslmode", "disable").with("gssencmode", "disable");
}

SessionPool::Stats SessionPool::stats() const {
  std::lock_guard lock(mutex_);
  return stats_;
}

void SessionPool::close_idle(const std::string& database) {
  std::vector<std::unique_ptr<Session>> closing;
  {
    std::unique_lock lock(mutex_);
    returned_.wait_for(lock, 5s, [&] {
      auto it = in_use_.find(database);
      return it == in_use_.end() || it->second == 0;
    });
    for (auto it = idle_.begin(); it != idle_.end();) {
      if (it->first.first == database) {
        idle_count_ -= it->second.size();
        stats_.sessions_closed += it->second.size();
        for (auto& session : it->second) closing.push_back(std::move(session));
        it = idle_.erase(it);
      } else {
        ++it;
      }
    }
  }
  // Closed outside the lock: PQfinish writes to the socket.
}

void SessionPool::stop() {
  if (stopping_.exchange(true)) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(stop_fd_, &one, sizeof one);
  if (acceptor_.joinable()) acceptor_.join();
  {
    std::unique_lock lock(mutex_);
    all_done_.wait(lock, [this] { return active_clients_ == 0; });
    idle_.clear();
    idle_count_ = 0;
  }
  ::close(listen_fd_);
  ::close(stop_fd_);
}

void SessionPool::accept_loop() {
  for (;;) {
    pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if ((fds[1].revents & POLLIN) != 0) return;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    const int on = 1;
    ::setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
    {
      std::lock_guard lock(mutex_);
      ++active_clients_;
    }
    // A thread a client: a client is a session for its whole life, and a
    // blocking relay per session is simpler to get right than a state machine.
    std::thread([this, client] {
      try {
        serve(client);
      } catch (const std::exception& e) {
        std::fprintf(stderr, "orgquake: session pool: %s\n", e.what());
      }
      ::close(client);
      std::lock_guard lock(mutex_);
      if (--active_clients_ == 0) all_done_.notify_all();
    }).detach();
  }
}

std::unique_ptr<SessionPool::Session> SessionPool::acquire(
    const Key& key, const std::vector<std::pair<std::string, std::string>>& settings,
    std::string& error) {
  for (;;) {
    std::unique_ptr<Session> session;
    {
      std::lock_guard lock(mutex_);
      auto it = idle_.find(key);
      if (it == idle_.end() || it->second.empty()) break;
      session = std::move(it->second.back());
      it->second.pop_back();
      --idle_count_;
    }
    {
      std::lock_guard lock(mutex_);
      ++in_use_[key.first];
    }
    if (session->apply(settings, error)) {
      std::lock_guard lock(mutex_);
      ++stats_.sessions_reused;
      return session;
    }
    if (PQstatus(session->conn) == CONNECTION_OK) {
      // The server refused the client's settings (a parameter it does not
      // know): the client's error, and the session goes back to the pool.
      release(std::move(session), true);
      return nullptr;
    }
    // Its backend died while it waited (a dropped database, a killed backend).
    release(std::move(session), false);
  }
  auto session = open_session(key, error);
  if (!session) return nullptr;
  {
    std::lock_guard lock(mutex_);
    ++in_use_[key.first];
  }
  if (!session->apply(settings, error)) {
    const bool alive = PQstatus(session->conn) == CONNECTION_OK;
    release(std::move(session), alive);
    return nullptr;
  }
  return session;
}

std::unique_ptr<SessionPool::Session> SessionPool::open_session(const Key& key,
                                                                std::string& error) {
  auto session = std::make_unique<Session>();
  session->key = key;
  const PgUrl target = server_.with_database(key.first)
                           .with("user", key.second)
                           .with("application_name", kIdleApplicationName)
                           .with("sslmode", "disable")
                           .with("gssencmode", "disable")
                           .with("connect_timeout", "10");
  session->conn = PQconnectdb(target.conninfo().c_str());
  if (PQstatus(session->conn) != CONNECTION_OK) {
    error = one_line(PQerrorMessage(session->conn));
    return nullptr;
  }
  std::lock_guard lock(mutex_);
  ++stats_.sessions_opened;
  return session;
}

void SessionPool::warm(const std::string& database, std::size_t count) {
  const Key key{database, server_.user()};
  std::size_t missing = 0;
  {
    std::lock_guard lock(mutex_);
    const std::size_t have = idle_.contains(key) ? idle_[key].size() : 0;
    const std::size_t room = max_idle_ > idle_count_ ? max_idle_ - idle_count_ : 0;
    missing = std::min(count > have ? count - have : 0, room);
  }
  if (missing == 0 || stopping_) return;
  // One thread a session: each connection's start-up is mostly the server's
  // work, and the server forks its backends in parallel.
  std::vector<std::unique_ptr<Session>> opened(missing);
  std::vector<std::thread> openers;
  for (std::size_t i = 0; i < missing; ++i) {
    openers.emplace_back([&, i] {
      std::string ignored;
      opened[i] = open_session(key, ignored);
    });
  }
  for (auto& opener : openers) opener.join();
  std::lock_guard lock(mutex_);
  for (auto& session : opened) {
    if (!session || idle_count_ >= max_idle_) continue;
    idle_[key].push_back(std::move(session));
    ++idle_count_;
    ++stats_.sessions_warmed;
  }
}

void SessionPool::release(std::unique_ptr<Session> session, bool reusable) {
  if (reusable && !stopping_) {
    PGresult* result = PQexec(session->conn, "DISCARD ALL");
    reusable = PQresultStatus(result) == PGRES_COMMAND_OK;
    PQclear(result);
  }
  const std::string database = session->key.first;
  {
    std::lock_guard lock(mutex_);
    if (reusable && !stopping_ && idle_count_ < max_idle_) {
      idle_[session->key].push_back(std::move(session));
      ++idle_count_;
    } else {
      ++stats_.sessions_closed;
    }
  }
  session.reset();  // PQfinish, outside the lock: it writes to the socket
  std::lock_guard lock(mutex_);
  if (--in_use_[database] == 0) returned_.notify_all();
}

void SessionPool::serve(int client_fd) {
  const auto deadline = std::chrono::steady_clock::now() + kStartupTimeout;
  pg_wire::StartupPacket packet;
  for (;;) {
    char length_bytes[4];
    if (!read_exact(client_fd, stop_fd_, length_bytes, 4, deadline)) return;
    const std::uint32_t length = pg_wire::read_u32(std::string_view(length_bytes, 4), 0);
    if (length < 8 || length > kMaxStartupPacket) {
      write_all(client_fd, stop_fd_,
                pg_wire::fatal_error("08P01", fmt::format("orgquake session pool: a start-up "
                                                          "packet of {} bytes",
                                                          length)));
      return;
    }
    std::string body(length - 4, '\0');
    if (!read_exact(client_fd, stop_fd_, body.data(), body.size(), deadline)) return;
    std::string error;
    auto parsed = pg_wire::parse_startup(body, error);
    if (!parsed) {
      write_all(client_fd, stop_fd_,
                pg_wire::fatal_error("08P01", "orgquake session pool: " + error));
      return;
    }
    if (parsed->code == pg_wire::kSslRequest || parsed->code == pg_wire::kGssEncRequest) {
      if (!write_all(client_fd, stop_fd_, "N")) return;  // no encryption on loopback
      continue;
    }
    if (parsed->code == pg_wire::kCancelRequest) {
      const std::uint64_t id =
          (static_cast<std::uint64_t>(parsed->cancel_pid) << 32) | parsed->cancel_key;
      std::lock_guard lock(mutex_);
      if (auto it = assigned_.find(id); it != assigned_.end()) {
        char ignored[256];
        PQcancel(it->second->cancel, ignored, sizeof ignored);
      }
      return;  // a cancel request gets no answer, only the close
    }
    packet = std::move(*parsed);
    break;
  }

  // The client's start-up parameters become settings of its session.
  const std::string user = packet.parameters.at("user");
  const auto database_it = packet.parameters.find("database");
  const std::string database =
      database_it != packet.parameters.end() && !database_it->second.empty() ? database_it->second
                                                                             : user;
  std::vector<std::pair<std::string, std::string>> settings;
  for (const auto& [name, value] : packet.parameters) {
    if (name == "user" || name == "database") continue;
    if (name == "replication") {
      write_all(client_fd, stop_fd_,
                pg_wire::fatal_error("08P01",
                                     "orgquake session pool: replication connections "
                                     "are not pooled"));
      return;
    }
    if (name == "options") {
      std::string error;
      auto options = parse_options(value, error);
      if (!options) {
        write_all(client_fd, stop_fd_,
                  pg_wire::fatal_error("08P01", "orgquake session pool: " + error));
        return;
      }
      settings.insert(settings.end(), options->begin(), options->end());
      continue;
    }
    settings.emplace_back(name, value);
  }
  if (std::none_of(settings.begin(), settings.end(),
                   [](const auto& s) { return s.first == "application_name"; })) {
    settings.emplace_back("application_name", "");  // as a direct session without one
  }

  std::string error;
  std::unique_ptr<Session> session = acquire({database, user}, settings, error);
  if (!session) {
    write_all(client_fd, stop_fd_, pg_wire::fatal_error("08006", error));
    return;
  }

  // The handshake a server sends once a session is ready, with the real
  // backend's process id so that the client's pid names its session.
  const auto pid = static_cast<std::uint32_t>(PQbackendPID(session->conn));
  std::uint32_t cancel_key = 0;
  {
    std::lock_guard lock(mutex_);
    cancel_key = ++next_cancel_key_;
    session->cancel = session->cancel ? session->cancel : PQgetCancel(session->conn);
    session->cancel_id = (static_cast<std::uint64_t>(pid) << 32) | cancel_key;
    assigned_[session->cancel_id] = session.get();
    ++stats_.clients;
  }
  std::string hello = pg_wire::authentication_ok();
  for (const char* name : kReportedParameters) {
    if (const char* value = PQparameterStatus(session->conn, name)) {
      hello += pg_wire::parameter_status(name, value);
    }
  }
  hello += pg_wire::backend_key_data(pid, cancel_key);
  hello += pg_wire::ready_for_query('I');

  // The relay. The client's Terminate is kept from the server (the session
  // outlives the client); what is watched decides whether the session is
  // idle when the client goes: every sync point (a simple query, a Sync, a
  // function call) answered by a ReadyForQuery, that one saying idle ('I').
  pg_wire::MessageFramer from_client("X");
  pg_wire::MessageFramer from_server;
  int unanswered_syncs = 0;
  bool unsynced = false;  // extended-protocol messages sent since the last Sync
  char last_status = 'I';
  bool client_said_goodbye = false;
  bool server_gone = false;
  const int server_fd = PQsocket(session->conn);
  std::string to_server;
  std::string to_client = std::move(hello);
  std::string chunk(64 * 1024, '\0');
  set_nonblocking(client_fd);

  // Reading stops while a direction's unsent bytes exceed this, so that a
  // client that does not read (a paused worker) holds back its server.
  constexpr std::size_t kBacklog = 1 << 20;
  constexpr short kGone = POLLHUP | POLLERR;
  bool client_gone = false;
  while (!client_gone && !server_gone && !stopping_) {
    const bool read_client = to_server.size() < kBacklog && !client_said_goodbye;
    const bool read_server = to_client.size() < kBacklog;
    pollfd fds[3] = {{client_fd, 0, 0}, {server_fd, 0, 0}, {stop_fd_, POLLIN, 0}};
    if (read_client) fds[0].events |= POLLIN;
    if (!to_client.empty()) fds[0].events |= POLLOUT;
    if (read_server) fds[1].events |= POLLIN;
    if (!to_server.empty()) fds[1].events |= POLLOUT;
    if (::poll(fds, 3, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if ((fds[2].revents & POLLIN) != 0) break;
    // A hang-up on a side not being read would wake every poll: it ends the relay.
    if (!read_server && (fds[1].revents & kGone) != 0) server_gone = true;
    if (!read_client && (fds[0].revents & kGone) != 0) client_gone = true;
    if (read_server && (fds[1].revents & (POLLIN | kGone)) != 0) {
      const ssize_t n = ::recv(server_fd, chunk.data(), chunk.size(), 0);
      if (n > 0) {
        from_server.forward(std::string_view(chunk.data(), static_cast<std::size_t>(n)), to_client,
                            [&](char type, int first) {
                              if (type == 'Z' && first >= 0) {
                                --unanswered_syncs;
                                last_status = static_cast<char>(first);
                              }
                            });
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        server_gone = true;
      }
    }
    if (read_client && (fds[0].revents & (POLLIN | kGone)) != 0) {
      const ssize_t n = ::recv(client_fd, chunk.data(), chunk.size(), 0);
      if (n > 0) {
        from_client.forward(std::string_view(chunk.data(), static_cast<std::size_t>(n)), to_server,
                            [&](char type, int) {
                              switch (type) {
                                case 'Q':
                                case 'F':
                                  ++unanswered_syncs;
                                  break;
                                case 'S':
                                  ++unanswered_syncs;
                                  unsynced = false;
                                  break;
                                case 'X':
                                  client_said_goodbye = true;
                                  break;
                                case 'P':
                                case 'B':
                                case 'E':
                                case 'D':
                                case 'C':
                                case 'H':
                                  unsynced = true;
                                  break;
                                default:
                                  break;  // CopyData, CopyDone, CopyFail: inside a query
                              }
                            });
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        client_gone = true;
      }
    }
    if (!send_some(server_fd, to_server)) server_gone = true;
    if (!send_some(client_fd, to_client)) client_gone = true;
    // A client that said goodbye is gone once what it sent has been passed on.
    if (client_said_goodbye && to_server.empty()) client_gone = true;
  }
  if (server_gone && !to_client.empty()) {
    // The backend's last words (FATAL: terminating connection ...) reach the
    // client before its connection closes, as they would from the server.
    write_all(client_fd, stop_fd_, to_client);
  }

  {
    std::lock_guard lock(mutex_);
    assigned_.erase(session->cancel_id);
  }
  const bool idle = !server_gone && to_server.empty() && from_client.at_boundary() &&
                    from_server.at_boundary() && unanswered_syncs == 0 && !unsynced &&
                    last_status == 'I';
  release(std::move(session), idle);
}

}  // namespace orgquake::services
