#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

namespace orgquake::fakes {

/// A response kept for replay.
struct StoredResponse {
  int status = 0;
  std::string body;
};

/// Stripe's idempotency layer: the first request with a key reserves it,
/// its response is stored and replayed to later requests with the same key
/// and parameters until the key expires (24 hours of the fake's clock).
class IdempotencyStore {
 public:
  static constexpr std::int64_t kDefaultTtlMs = 24LL * 60 * 60 * 1000;

  enum class Outcome {
    fresh,      ///< first use: the caller must complete() or release() the key
    replay,     ///< answer with `stored`
    mismatch,   ///< same key, different parameters: 400 idempotency_error
    in_flight,  ///< the first request with this key has not finished: 409
  };
  struct Result {
    Outcome outcome;
    const StoredResponse* stored = nullptr;
  };

  explicit IdempotencyStore(std::int64_t ttl_ms = kDefaultTtlMs) : ttl_ms_(ttl_ms) {}

  /// `key` is scoped by the caller (API key + Idempotency-Key); `fingerprint`
  /// identifies the parameters (method, path, canonical body).
  Result begin(const std::string& key, const std::string& fingerprint, std::int64_t now_ms);
  void complete(const std::string& key, StoredResponse response);
  /// Forgets a reservation whose request was never executed, so a retry runs.
  void release(const std::string& key);
  std::size_t size() const { return entries_.size(); }

 private:
  struct Entry {
    std::string fingerprint;
    std::int64_t created_ms = 0;
    bool done = false;
    StoredResponse response;
  };
  void prune(std::int64_t now_ms);

  std::int64_t ttl_ms_;
  std::unordered_map<std::string, Entry> entries_;
  std::uint64_t calls_ = 0;
};

}  // namespace orgquake::fakes
