#pragma once

// Watches one trial's lock keys in Redis, whatever language the migrator is
// written in: a thread reads Redis's MONITOR stream and keeps every write to
// a key under the trial's lock prefix (SET, DEL, EXPIRE, ... and the same
// commands run by a script), with the server's order and time and the
// calling connection, attributed to a worker's client by the connection's
// name (worker::connection_name). The lock invariants rebuild the leases
// from these events (history/lock_leases.hpp).
//
// The observer never fails a trial: when Redis goes away (a redis_outage
// fault) it records that it lost the stream, reconnects as soon as Redis is
// back and records that too; the lock invariants treat the gap as unseen.

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "history/history.hpp"
#include "history/lock_leases.hpp"
#include "services/redis_monitor.hpp"
#include "services/redis_url.hpp"

namespace orgquake::engine {

// The observer's own markers, as `redis` events without a user: the stream
// started, was lost (at the last line read) and regained, or never began;
// the harness stopped Redis and is about to start it again.
using history::redis_down;
using history::redis_monitor_lost;
using history::redis_monitor_regained;
using history::redis_monitor_started;
using history::redis_monitor_unavailable;
using history::redis_starting;

/// Turns MONITOR lines into `redis` history events: keeps the lock-key
/// writes, attributes them to connections and names, and carries a script's
/// arguments to the commands it runs. No I/O: unit-tested with lines.
class LockCommandFilter {
 public:
  /// `key_prefix`: the trial's lock keys, "orgquake:<run>:t<trial>:lock:user:".
  explicit LockCommandFilter(std::string key_prefix) : key_prefix_(std::move(key_prefix)) {}

  /// The connections' names as CLIENT LIST gave them when the stream began.
  void know_names(const std::map<std::string, std::string>& name_of_address);
  /// The events one line makes (none for most); `time_ns` is its time on
  /// the trial's clock.
  std::vector<history::Event> take(const services::MonitorLine& line, std::int64_t time_ns);

 private:
  history::Event event_of(const services::MonitorLine& line, const std::string& key,
                          std::int64_t time_ns, bool by_script) const;

  std::string key_prefix_;
  std::map<std::string, std::string> names_;  ///< connection address -> CLIENT SETNAME
  /// The script whose commands the following "lua" lines are: its caller
  /// and its arguments (MONITOR prints a script's line before its commands).
  std::string script_caller_;
  std::vector<std::string> script_args_;
};

/// `addr=127.0.0.1:5000 ... name=orgquake:w0:c1 ...` lines -> address -> name.
std::map<std::string, std::string> parse_client_list(const std::string& client_list);

class LockObserver {
 public:
  /// Starts watching at once and returns when the stream is open (or after
  /// a second without it, recording why): every lock command a worker of
  /// the trial sends is seen.
  LockObserver(services::RedisUrl url, std::string key_prefix,
               std::chrono::steady_clock::time_point trial_start);
  LockObserver(const LockObserver&) = delete;
  LockObserver& operator=(const LockObserver&) = delete;
  ~LockObserver();

  /// Waits (up to `timeout`) until the stream is open again: called after
  /// Redis restarts, so that the unseen gap ends within a few milliseconds
  /// of Redis accepting connections.
  bool await_stream(std::chrono::milliseconds timeout);
  /// Called by the trial once Redis has stopped, and before it starts it.
  void redis_stopped();
  void redis_about_to_start();

  /// Stops watching once everything Redis ran before this call has been
  /// read (a fence command marks the spot), and hands over the events.
  std::vector<history::Event> finish();

 private:
  void watch();
  void add(history::Event event);
  void mark(std::string_view kind, nlohmann::json value);
  std::int64_t now_ns() const;

  services::RedisUrl url_;
  std::string key_prefix_;
  std::string fence_;
  std::chrono::steady_clock::time_point trial_start_;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<history::Event> events_;
  bool streaming_ = false;
  bool ever_streamed_ = false;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> stop_now_{false};
  std::thread thread_;
};

}  // namespace orgquake::engine
