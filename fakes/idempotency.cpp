#include "fakes/idempotency.hpp"

namespace orgquake::fakes {

IdempotencyStore::Result IdempotencyStore::begin(const std::string& key,
                                                 const std::string& fingerprint,
                                                 std::int64_t now_ms) {
  if (++calls_ % 4096 == 0) prune(now_ms);
  auto it = entries_.find(key);
  if (it != entries_.end() && now_ms - it->second.created_ms >= ttl_ms_) {
    entries_.erase(it);
    it = entries_.end();
  }
  if (it == entries_.end()) {
    entries_.emplace(key, Entry{fingerprint, now_ms, false, {}});
    return {Outcome::fresh};
  }
  if (it->second.fingerprint != fingerprint) return {Outcome::mismatch};
  if (!it->second.done) return {Outcome::in_flight};
  return {Outcome::replay, &it->second.response};
}

void IdempotencyStore::complete(const std::string& key, StoredResponse response) {
  auto it = entries_.find(key);
  if (it == entries_.end()) return;
  it->second.done = true;
  it->second.response = std::move(response);
}

void IdempotencyStore::release(const std::string& key) {
  auto it = entries_.find(key);
  if (it != entries_.end() && !it->second.done) entries_.erase(it);
}

void IdempotencyStore::prune(std::int64_t now_ms) {
  for (auto it = entries_.begin(); it != entries_.end();) {
    if (it->second.done && now_ms - it->second.created_ms >= ttl_ms_) {
      it = entries_.erase(it);
    } else {
      ++it;
    }
  }
}

}  // namespace orgquake::fakes
