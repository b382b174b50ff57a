#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "services/postgres_url.hpp"

namespace orgquake::services {

/// A PostgreSQL session pool on loopback, in session mode: each client
/// connection gets a server session of its own for as long as it stays, and
/// a session its client left cleanly (idle, outside a transaction) is reset
/// with DISCARD ALL and handed to the next client of the same database and
/// user. Sessions outlive the workers that used them, so a trial's clients
/// connect in microseconds instead of paying for a backend each (about
/// 40 ms of CPU on a small VM) and meet warm catalog caches.
///
///   SessionPool pool(services.admin_url());
///   auto url = pool.client_url("orgquake_trial_1");  // what workers connect to
///
/// What a client sees is a server session: its parameters, the real backend
/// process id (so pg_stat_activity, pg_terminate_backend and cancel requests
/// all name the session the client is using) and the server's errors. Its
/// start-up parameters (application_name, client_encoding, `options` of
/// `-c name=value`, ...) are set on the session with set_config. A client
/// that leaves a session anywhere but idle (inside a transaction, with a
/// statement running, mid-message: a killed worker) closes that session, so
/// the server rolls back and releases its locks as it would for a direct
/// client. A session whose backend dies closes its client's connection.
class SessionPool {
 public:
  struct Stats {
    std::uint64_t clients = 0;          ///< client connections that got a session
    std::uint64_t sessions_opened = 0;  ///< server sessions opened
    std::uint64_t sessions_reused = 0;  ///< handovers of a pooled session
    std::uint64_t sessions_closed = 0;  ///< sessions closed rather than pooled
    std::uint64_t sessions_warmed = 0;  ///< sessions opened ahead of their clients (warm())
  };

  /// Listens on 127.0.0.1 (a port of the kernel's choice) and opens sessions
  /// to `server` (its host, port and credentials; database and user are the
  /// client's). Keeps at most `max_idle` idle sessions. Throws EnvironmentError.
  explicit SessionPool(PgUrl server, std::size_t max_idle = 256);
  SessionPool(const SessionPool&) = delete;
  SessionPool& operator=(const SessionPool&) = delete;
  ~SessionPool();

  std::uint16_t port() const { return port_; }
  /// The URL a client uses for `database` through the pool.
  PgUrl client_url(const std::string& database) const;
  /// Opens sessions to `database` (as the server URL's user) until `count`
  /// are idle, all at once, and returns when they are: a trial's set-up
  /// warms the pool so that its clients do not wait for backends in its
  /// run phase. Sessions that cannot be opened are left to the clients,
  /// which then get the server's error themselves.
  void warm(const std::string& database, std::size_t count);
  /// Closes the sessions of `database` before it is copied or dropped: the
  /// idle ones at once, after waiting (up to 5 s) for those still in use
  /// to come back (a client that has just gone, its session being reset).
  void close_idle(const std::string& database);
  Stats stats() const;
  /// Closes every client connection and every session; idempotent.
  void stop();

 private:
  struct Session;
  using Key = std::pair<std::string, std::string>;  // database, user

  void accept_loop();
  void serve(int client_fd);
  std::unique_ptr<Session> acquire(const Key& key,
                                   const std::vector<std::pair<std::string, std::string>>& settings,
                                   std::string& error);
  void release(std::unique_ptr<Session> session, bool reusable);
  std::unique_ptr<Session> open_session(const Key& key, std::string& error);

  PgUrl server_;
  std::size_t max_idle_;
  int listen_fd_ = -1;
  int stop_fd_ = -1;  // an eventfd every poll of the pool includes
  std::uint16_t port_ = 0;
  std::thread acceptor_;
  std::atomic<bool> stopping_{false};

  mutable std::mutex mutex_;
  std::condition_variable all_done_;
  int active_clients_ = 0;
  std::map<Key, std::vector<std::unique_ptr<Session>>> idle_;
  std::map<std::string, int> in_use_;  // database -> sessions assigned or being reset
  std::condition_variable returned_;
  std::size_t idle_count_ = 0;
  std::map<std::uint64_t, Session*> assigned_;  // (pid << 32 | key) -> session, for cancels
  std::uint32_t next_cancel_key_ = 0;
  Stats stats_;
};

}  // namespace orgquake::services
