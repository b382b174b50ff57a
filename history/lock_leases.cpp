#include "history/lock_leases.hpp"

#include <algorithm>
#include <cctype>
#include <map>
#include <optional>

#include <fmt/format.h>

#include "history/operations.hpp"

namespace orgquake::history {
namespace {

constexpr std::int64_t ms_ns = 1'000'000;

std::string upper(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  return text;
}

std::vector<std::string> args_of(const Event& event) {
  std::vector<std::string> args;
  const auto it = event.value.find("args");
  if (it == event.value.end() || !it->is_array()) return args;
  for (const auto& arg : *it) args.push_back(arg.is_string() ? arg.get<std::string>() : "");
  return args;
}

std::optional<std::int64_t> number(const std::string& text) {
  try {
    std::size_t used = 0;
    const long long value = std::stoll(text, &used);
    if (used != text.size()) return std::nullopt;
    return value;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

LockCaller caller_of(const Event& event) {
  LockCaller caller;
  caller.connection = string_field(event.value, "conn");
  const auto worker = event.value.find("worker");
  const auto client = event.value.find("client");
  if (worker != event.value.end() && worker->is_number_integer() && client != event.value.end() &&
      client->is_number_integer()) {
    caller.worker = worker->get<int>();
    caller.client = client->get<int>();
  }
  return caller;
}

/// Whether the script that ran this command was handed `token`: a
/// compare-and-delete proves its caller held the lock it deletes.
bool script_carries(const Event& event, const std::string& token) {
  const auto it = event.value.find("script");
  if (it == event.value.end() || !it->is_array() || token.empty()) return false;
  return std::any_of(it->begin(), it->end(),
                     [&](const nlohmann::json& arg) { return arg.is_string() && arg == token; });
}

/// A SET-like command read into what it asks of the key.
struct Write {
  bool only_if_absent = false;   // NX
  bool only_if_present = false;  // XX
  bool keep_ttl = false;
  std::string value;
  std::int64_t expires_ns = no_expiry;  // on the trial's clock
};

/// An expiry argument relative (ms/s) or absolute (unix ms/s) into the
/// trial's clock, given the command's own time on both clocks.
std::int64_t expiry_at(const Event& event, std::int64_t amount, std::int64_t unit_ms,
                       bool absolute) {
  if (!absolute) return event.time_ns + amount * unit_ms * ms_ns;
  const auto server = event.value.find("server_us");
  const std::int64_t server_us =
      server != event.value.end() && server->is_number_integer() ? server->get<std::int64_t>() : 0;
  return event.time_ns + (amount * unit_ms * 1000 - server_us) * 1000;
}

std::optional<Write> read_write(const Event& event, const std::vector<std::string>& args) {
  Write write;
  const std::string& command = event.kind;
  if (command == "setnx" && args.size() >= 3) {
    write.only_if_absent = true;
    write.value = args[2];
    return write;
  }
  if ((command == "setex" || command == "psetex") && args.size() >= 4) {
    const auto amount = number(args[2]);
    if (!amount) return std::nullopt;
    write.value = args[3];
    write.expires_ns = expiry_at(event, *amount, command == "setex" ? 1000 : 1, false);
    return write;
  }
  if (command == "getset" && args.size() >= 3) {
    write.value = args[2];
    return write;
  }
  if (command != "set" || args.size() < 3) return std::nullopt;
  write.value = args[2];
  for (std::size_t i = 3; i < args.size(); ++i) {
    const std::string option = upper(args[i]);
    if (option == "NX") write.only_if_absent = true;
    if (option == "XX") write.only_if_present = true;
    if (option == "KEEPTTL") write.keep_ttl = true;
    if ((option == "PX" || option == "EX" || option == "PXAT" || option == "EXAT") &&
        i + 1 < args.size()) {
      const auto amount = number(args[++i]);
      if (!amount) return std::nullopt;
      write.expires_ns = expiry_at(event, *amount, option[0] == 'P' ? 1 : 1000, option.size() == 4);
    }
  }
  return write;
}

/// What the simulation knows of one key.
struct Key {
  enum class State { absent, held, unknown } state = State::absent;
  std::size_t lease = 0;  ///< held: the lease that set it
  std::int64_t expires_ns = no_expiry;
  std::int64_t unknown_until = no_expiry;
  std::vector<std::size_t> leases;  ///< every lease of this key, in grant order
};

class Simulation {
 public:
  Simulation(LockHistory& out, std::int64_t tolerance) : out_(out), tolerance_(tolerance) {}

  void marker(const Event& event) {
    if (event.kind == redis_monitor_started) {
      out_.observed = true;
    } else if (event.kind == redis_monitor_unavailable) {
      out_.why_not = string_field(event.value, "why");
    } else if (event.kind == redis_monitor_lost) {
      lost_at_ = event.time_ns;
      downs_.clear();
      for (auto& lease : out_.leases) {
        if (lease.ends_ns > event.time_ns) {
          lease.ends_ns = event.time_ns;
          lease.end = LockLease::End::unseen;
        }
      }
      for (auto& [user, key] : keys_) {
        if (key.state == Key::State::held) key.unknown_until = key.expires_ns;
        key.state = Key::State::unknown;
      }
    } else if (event.kind == redis_down) {
      down_from_ = event.time_ns;
    } else if (event.kind == redis_starting) {
      if (down_from_) downs_.push_back({*down_from_, event.time_ns});
      down_from_.reset();
    } else if (event.kind == redis_monitor_regained && lost_at_) {
      close_gap(event.time_ns);
      // A key set while unseen lasts at most the longest lease seen so far.
      for (auto& [user, key] : keys_) {
        if (key.state != Key::State::unknown) continue;
        const std::int64_t fresh =
            longest_ttl_ns_ ? event.time_ns + *longest_ttl_ns_ + tolerance_ : no_expiry;
        key.unknown_until = key.unknown_until == no_expiry || fresh == no_expiry
                                ? no_expiry
                                : std::max(key.unknown_until, fresh);
      }
    }
  }

  void command(const Event& event) {
    const auto args = args_of(event);
    const LockCaller caller = caller_of(event);
    if (event.kind == "flushdb" || event.kind == "flushall") {
      for (auto& [user, key] : keys_) key.state = Key::State::absent;
      return;
    }
    Key& key = keys_[event.user];
    settle(key, event.time_ns);
    const std::string& command = event.kind;
    if (command == "del" || command == "unlink" || command == "getdel") {
      remove(key, event, caller);
    } else if (const auto write = read_write(event, args)) {
      set(key, event, caller, *write);
    } else if (command == "expire" || command == "pexpire" || command == "expireat" ||
               command == "pexpireat" || command == "persist" || command == "getex") {
      change_expiry(key, event, caller, args);
    }
  }

  void finish() {
    if (lost_at_) close_gap(no_expiry);
  }

 private:
  void close_gap(std::int64_t regained_at) {
    if (down_from_) downs_.push_back({*down_from_, regained_at});
    down_from_.reset();
    // The gap less the stretches in which the harness had Redis stopped.
    std::int64_t from = *lost_at_;
    std::sort(downs_.begin(), downs_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& [down, up] : downs_) {
      out_.down.push_back({down, up});
      if (down > from) out_.unseen.push_back({from, std::min(down, regained_at)});
      from = std::max(from, up);
    }
    if (from < regained_at) out_.unseen.push_back({from, regained_at});
    lost_at_.reset();
    downs_.clear();
  }

  bool near_expiry(const Key& key, std::int64_t t) const {
    return key.state == Key::State::held && key.expires_ns != no_expiry &&
           t >= key.expires_ns - tolerance_;
  }

  void settle(Key& key, std::int64_t t) {
    if (key.state == Key::State::held && key.expires_ns != no_expiry &&
        t > key.expires_ns + tolerance_) {
      key.state = Key::State::absent;
    } else if (key.state == Key::State::unknown && key.unknown_until != no_expiry &&
               t > key.unknown_until) {
      key.state = Key::State::absent;
    }
  }

  std::size_t grant(Key& key, const Event& event, const LockCaller& caller, const Write& write,
                    bool certain) {
    LockLease lease;
    lease.user = event.user;
    lease.holder = caller;
    lease.token = write.value;
    lease.granted_ns = event.time_ns;
    lease.ends_ns = write.expires_ns;
    lease.end =
        write.expires_ns == no_expiry ? LockLease::End::history_end : LockLease::End::expired;
    lease.certain = certain;
    lease.grant = &event;
    if (write.expires_ns != no_expiry) {
      const std::int64_t ttl = write.expires_ns - event.time_ns;
      longest_ttl_ns_ = std::max(longest_ttl_ns_.value_or(0), ttl);
    }
    out_.leases.push_back(std::move(lease));
    key.leases.push_back(out_.leases.size() - 1);
    return out_.leases.size() - 1;
  }

  /// The key's current lease, when it is certainly live at `t`.
  LockLease* live_holder(Key& key, std::int64_t t) {
    if (key.state != Key::State::held || near_expiry(key, t)) return nullptr;
    LockLease& lease = out_.leases[key.lease];
    return lease.certain && lease.ends_ns > t ? &lease : nullptr;
  }

  bool held_before(const Key& key, const LockCaller& caller) const {
    return std::any_of(key.leases.begin(), key.leases.end(),
                       [&](std::size_t i) { return out_.leases[i].holder.same_as(caller); });
  }

  /// The caller's own leases of this key end here: it let go (or overwrote).
  void end_own(Key& key, const Event& event, const LockCaller& caller) {
    for (const std::size_t i : key.leases) {
      LockLease& lease = out_.leases[i];
      if (lease.holder.same_as(caller) && lease.ends_ns > event.time_ns) {
        lease.ends_ns = event.time_ns;
        lease.end = LockLease::End::released;
        lease.release = &event;
      }
    }
  }

  /// Another caller's live lease is deleted or overwritten by `caller`.
  void take_from_holder(Key& key, const Event& event, const LockCaller& caller) {
    LockLease* holder = live_holder(key, event.time_ns);
    if (holder == nullptr || holder->holder.same_as(caller)) return;
    if (script_carries(event, holder->token)) {
      // A compare-and-delete with the holder's token: the holder's own
      // release over another connection (a pool).
      holder->ends_ns = event.time_ns;
      holder->end = LockLease::End::released;
      holder->release = &event;
      return;
    }
    if (caller.named() || held_before(key, caller)) {
      out_.foreign_releases.push_back({&event, caller, key.lease});
      return;  // the holder still believes it holds the lock
    }
    // An unnamed connection nobody saw holding the lock: perhaps the holder
    // itself after a reconnect. Its lease ends here, unjudged.
    holder->ends_ns = event.time_ns;
    holder->end = LockLease::End::unseen;
  }

  void remove(Key& key, const Event& event, const LockCaller& caller) {
    end_own(key, event, caller);
    take_from_holder(key, event, caller);
    key.state = Key::State::absent;
  }

  void set(Key& key, const Event& event, const LockCaller& caller, const Write& write) {
    if (write.only_if_absent) {
      LockAttempt attempt{&event, event.user, caller, LockAttempt::Outcome::unsure};
      if (key.state == Key::State::absent) {
        attempt.outcome = LockAttempt::Outcome::granted;
        key.lease = grant(key, event, caller, write, true);
        key.state = Key::State::held;
        key.expires_ns = write.expires_ns;
      } else if (key.state == Key::State::held && !near_expiry(key, event.time_ns)) {
        attempt.outcome = LockAttempt::Outcome::refused;
      } else {
        // Within the tolerance of an expiry, or after an unseen stretch:
        // perhaps granted. Counted as a grant where that excuses, never
        // as one that overlaps.
        const std::int64_t before =
            key.state == Key::State::held ? key.expires_ns : key.unknown_until;
        grant(key, event, caller, write, false);
        key.state = Key::State::unknown;
        key.unknown_until = before == no_expiry || write.expires_ns == no_expiry
                                ? no_expiry
                                : std::max(before, write.expires_ns) + tolerance_;
      }
      out_.attempts.push_back(attempt);
      return;
    }
    if (write.only_if_present) {
      if (key.state == Key::State::held && out_.leases[key.lease].holder.same_as(caller)) {
        if (!write.keep_ttl) extend(key, write.expires_ns);
      } else if (key.state != Key::State::absent) {
        take_from_holder(key, event, caller);
        key.state = Key::State::unknown;
        key.unknown_until = no_expiry;
      }
      return;
    }
    // An unconditional SET takes the key from whoever held it.
    end_own(key, event, caller);
    take_from_holder(key, event, caller);
    key.lease = grant(key, event, caller, write, true);
    key.state = Key::State::held;
    key.expires_ns = write.expires_ns;
  }

  void extend(Key& key, std::int64_t expires_ns) {
    key.expires_ns = expires_ns;
    LockLease& lease = out_.leases[key.lease];
    lease.ends_ns = expires_ns;
    lease.end = expires_ns == no_expiry ? LockLease::End::history_end : LockLease::End::expired;
  }

  void change_expiry(Key& key, const Event& event, const LockCaller& caller,
                     const std::vector<std::string>& args) {
    if (key.state != Key::State::held) {
      if (key.state == Key::State::unknown) key.unknown_until = no_expiry;
      return;
    }
    std::int64_t expires = no_expiry;
    const std::string& command = event.kind;
    if (command == "getex") {
      bool changes = false;
      for (std::size_t i = 2; i < args.size(); ++i) {
        const std::string option = upper(args[i]);
        if (option == "PERSIST") changes = true;
        if ((option == "PX" || option == "EX" || option == "PXAT" || option == "EXAT") &&
            i + 1 < args.size()) {
          const auto amount = number(args[++i]);
          if (!amount) return;
          expires = expiry_at(event, *amount, option[0] == 'P' ? 1 : 1000, option.size() == 4);
          changes = true;
        }
      }
      if (!changes) return;
    } else if (command != "persist") {
      if (args.size() < 3) return;
      const auto amount = number(args[2]);
      if (!amount) return;
      expires =
          expiry_at(event, *amount, command.front() == 'p' ? 1 : 1000, command.ends_with("at"));
    }
    if (out_.leases[key.lease].holder.same_as(caller)) {
      extend(key, expires);
    } else {
      key.expires_ns = expires;  // the key's life changed; its holder's belief did not
    }
  }

  LockHistory& out_;
  std::int64_t tolerance_;
  std::map<std::string, Key> keys_;
  std::optional<std::int64_t> lost_at_;
  std::optional<std::int64_t> down_from_;
  std::vector<std::pair<std::int64_t, std::int64_t>> downs_;
  std::optional<std::int64_t> longest_ttl_ns_;
};

}  // namespace

std::string LockCaller::describe() const {
  if (named()) return fmt::format("worker {}, client {}", worker, client);
  return fmt::format("connection {}", connection.empty() ? "(unknown)" : connection);
}

bool LockCaller::same_as(const LockCaller& other) const {
  if (named() || other.named()) return worker == other.worker && client == other.client;
  return connection == other.connection;
}

bool LockHistory::unseen_during(std::int64_t from_ns, std::int64_t to_ns) const {
  return std::any_of(unseen.begin(), unseen.end(), [&](const UnseenStretch& stretch) {
    return stretch.from_ns <= to_ns && from_ns <= stretch.to_ns;
  });
}

LockHistory lock_history_of(const History& history, std::int64_t expiry_tolerance_ns) {
  LockHistory lock;
  Simulation simulation(lock, expiry_tolerance_ns);
  for (const Event& event : history.events()) {
    if (event.type != EventType::redis) continue;
    if (event.user.empty() && event.kind.starts_with("redis_")) {
      simulation.marker(event);
    } else {
      simulation.command(event);
    }
  }
  simulation.finish();
  if (!lock.observed && lock.why_not.empty()) {
    lock.why_not = "the history has no record of Redis's lock commands";
  }
  return lock;
}

}  // namespace orgquake::history
