#pragma once

// The per-user lock as Redis saw it, rebuilt from a history's `redis`
// events (the lock observer's record of every write to a lock key, in the
// server's order): who was granted each lock and when, until when each
// holder could believe it held it, who deleted a lock another held, and
// which attempts were refused. Redis sends no replies to MONITOR, so the
// outcome of each SET ... NX is simulated from the key's state, with the
// expiry rule Redis applies; an attempt within `expiry_tolerance` of an
// expiry (redis_clock_skew_ns) is "unsure" rather than guessed, and nothing unsure is ever used
// as evidence of a violation.

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "history/history.hpp"

namespace orgquake::history {

/// Who sent a lock command: the worker's client its connection is named for
/// (worker::connection_name), else the connection's address alone.
struct LockCaller {
  int worker = -1;
  int client = -1;
  std::string connection;  ///< "127.0.0.1:51302"
  bool named() const { return worker >= 0; }
  /// One identity: "worker 2, client 0" or "connection 127.0.0.1:51302".
  std::string describe() const;
  bool same_as(const LockCaller& other) const;
};

/// How far a MONITOR line's timestamp may lag the moment Redis ran the
/// command: Redis stamps lines with a time it caches, and on a loaded
/// machine (seen with two CI runs on 2 cores) stamps ran up to 90 ms behind
/// the commands around them. The observer keeps the stream's order (its
/// times never go back), and every comparison of a lock command's time
/// with an expiry or with an operation's invoke and completion allows this
/// much: the lock bugs of the catalog show by far more.
inline constexpr std::int64_t redis_clock_skew_ns = 250'000'000;

inline constexpr std::int64_t no_expiry = std::numeric_limits<std::int64_t>::max();

/// One grant of a user's lock, and the time until which its holder could
/// believe it held the lock: its own release, its expiry, or the start of a
/// stretch the observer did not see.
struct LockLease {
  std::string user;
  LockCaller holder;
  std::string token;  ///< the value the holder set
  std::int64_t granted_ns = 0;
  std::int64_t ends_ns = no_expiry;
  enum class End { released, expired, unseen, history_end } end = End::history_end;
  /// Granted for certain (the key was free, or the SET did not ask NX).
  bool certain = true;
  const Event* grant = nullptr;
  const Event* release = nullptr;  ///< the holder's own delete, when it ended so
};

/// A lock deleted, or overwritten, while another caller's certain lease on
/// it was live: the classic "release without checking the owner".
struct ForeignRelease {
  const Event* command = nullptr;
  LockCaller by;
  std::size_t victim = 0;  ///< index into LockHistory::leases
};

/// One SET ... NX (or SETNX) on a lock key and what it got.
struct LockAttempt {
  const Event* event = nullptr;
  std::string user;
  LockCaller caller;
  enum class Outcome { granted, refused, unsure } outcome = Outcome::unsure;
};

/// A stretch in which Redis may have run lock commands the observer did not
/// see (from the last line before the stream was lost until it was back,
/// less the time the harness had Redis stopped).
struct UnseenStretch {
  std::int64_t from_ns = 0;
  std::int64_t to_ns = 0;
};

struct LockHistory {
  /// Whether the observer watched Redis at all; if not, `why_not` says why.
  bool observed = false;
  std::string why_not;
  std::vector<LockLease> leases;
  std::vector<ForeignRelease> foreign_releases;
  std::vector<LockAttempt> attempts;
  std::vector<UnseenStretch> unseen;
  /// When the harness had Redis stopped (no lock could be granted).
  std::vector<UnseenStretch> down;
  /// Whether [from, to] meets a stretch the observer did not see.
  bool unseen_during(std::int64_t from_ns, std::int64_t to_ns) const;
};

/// Rebuilds the lock from a finished (time-ordered) history.
LockHistory lock_history_of(const History& history,
                            std::int64_t expiry_tolerance_ns = redis_clock_skew_ns);

/// The observer's markers (the `kind` of `redis` events without a user).
inline constexpr std::string_view redis_monitor_started = "redis_monitor_started";
inline constexpr std::string_view redis_monitor_lost = "redis_monitor_lost";
inline constexpr std::string_view redis_monitor_regained = "redis_monitor_regained";
inline constexpr std::string_view redis_monitor_unavailable = "redis_monitor_unavailable";
inline constexpr std::string_view redis_down = "redis_down";
inline constexpr std::string_view redis_starting = "redis_starting";

}  // namespace orgquake::history
