#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace orgquake::fakes {

/// The fakes' notion of "now", in Unix milliseconds. Injected so that tests can
/// move time (idempotency expiry, search lag) without sleeping.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() const = 0;
  std::int64_t now_s() const { return now_ms() / 1000; }
};

/// Wall-clock time, as the real services see it.
class SystemClock final : public Clock {
 public:
  std::int64_t now_ms() const override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

/// A clock that moves only when told; safe to advance from any thread.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(std::int64_t start_ms = 1'700'000'000'000) : now_(start_ms) {}
  std::int64_t now_ms() const override { return now_.load(std::memory_order_acquire); }
  void advance_ms(std::int64_t delta) { now_.fetch_add(delta, std::memory_order_acq_rel); }
  void set_ms(std::int64_t value) { now_.store(value, std::memory_order_release); }

 private:
  std::atomic<std::int64_t> now_;
};

}  // namespace orgquake::fakes
