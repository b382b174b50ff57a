#include "migrator/io/reactor.hpp"

#include <array>
#include <cerrno>
#include <mutex>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <unordered_map>
#include <utility>

#include <boost/fiber/algo/algorithm.hpp>
#include <boost/fiber/all.hpp>
#include <boost/fiber/context.hpp>
#include <boost/fiber/scheduler.hpp>

#include "core/error.hpp"

namespace orgquake::io {
namespace {

using boost::fibers::context;

// One socket's waiters: at most one fiber per direction, as a connection is
// used by one fiber at a time.
struct Registration {
  context* reader = nullptr;
  context* writer = nullptr;
  bool reader_woken = false;
  bool writer_woken = false;
  bool in_epoll = false;
};

class ReactorAlgorithm;
thread_local ReactorAlgorithm* t_reactor = nullptr;

/// A round-robin scheduler whose idle wait is epoll_wait over the sockets
/// its fibers wait on, plus an eventfd for wake-ups from other threads.
class ReactorAlgorithm final : public boost::fibers::algo::algorithm {
 public:
  ReactorAlgorithm() {
    epoll_ = epoll_create1(EPOLL_CLOEXEC);
    wakeup_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_ < 0 || wakeup_ < 0) throw_errno("cannot create the fiber reactor");
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wakeup_;
    epoll_ctl(epoll_, EPOLL_CTL_ADD, wakeup_, &event);
    t_reactor = this;
  }
  ~ReactorAlgorithm() override {
    if (t_reactor == this) t_reactor = nullptr;
    close(epoll_);
    close(wakeup_);
  }

  void awakened(context* ctx) noexcept override { ctx->ready_link(ready_); }

  context* pick_next() noexcept override {
    if (ready_.empty()) return nullptr;
    context* ctx = &ready_.front();
    ready_.pop_front();
    return ctx;
  }

  bool has_ready_fibers() const noexcept override { return !ready_.empty(); }

  void suspend_until(const Clock::time_point& until) noexcept override {
    int timeout_ms = -1;
    if (until != Clock::time_point::max()) {
      const auto left = until - Clock::now();
      // Round up: waking a little early would only spin back here.
      timeout_ms =
          left <= Clock::duration::zero()
              ? 0
              : static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
    }
    std::array<epoll_event, 128> events;
    const int n = epoll_wait(epoll_, events.data(), static_cast<int>(events.size()), timeout_ms);
    for (int i = 0; i < n; ++i) dispatch(events[i]);
  }

  void notify() noexcept override {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto written = write(wakeup_, &one, sizeof one);
  }

  bool wait(int fd, Interest interest, Deadline deadline) {
    Registration& r = registrations_[fd];
    context* self = context::active();
    bool& woken = interest == Interest::readable ? r.reader_woken : r.writer_woken;
    (interest == Interest::readable ? r.reader : r.writer) = self;
    woken = false;
    arm(fd, r);
    if (deadline) {
      self->wait_until(*deadline);
    } else {
      self->suspend();
    }
    // The map may have rehashed while we were away: look the entry up again.
    Registration& after = registrations_[fd];
    const bool ready = interest == Interest::readable ? after.reader_woken : after.writer_woken;
    if (!ready) {
      // Timed out: stop listening for this fiber, so that a later event
      // cannot schedule a fiber that has moved on.
      (interest == Interest::readable ? after.reader : after.writer) = nullptr;
      arm(fd, after);
    }
    return ready;
  }

  void forget(int fd) {
    auto it = registrations_.find(fd);
    if (it == registrations_.end()) return;
    if (it->second.in_epoll) epoll_ctl(epoll_, EPOLL_CTL_DEL, fd, nullptr);
    registrations_.erase(it);
  }

 private:
  // One-shot arming: the kernel disarms the fd after reporting it, so a
  // busy socket cannot flood the loop with events nobody waits for.
  void arm(int fd, Registration& r) {
    epoll_event event{};
    event.data.fd = fd;
    event.events =
        EPOLLONESHOT | (r.reader ? EPOLLIN | EPOLLRDHUP : 0u) | (r.writer ? EPOLLOUT : 0u);
    if (!r.reader && !r.writer) event.events = EPOLLONESHOT;  // parked, reports nothing
    if (epoll_ctl(epoll_, r.in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event) == 0) {
      r.in_epoll = true;
    } else if (r.in_epoll && errno == ENOENT) {
      // The descriptor was closed behind our back (libpq drops a dead
      // backend's socket itself, so nobody called forget) and its number
      // reused: the kernel dropped the old registration, so add the new one.
      r.in_epoll = epoll_ctl(epoll_, EPOLL_CTL_ADD, fd, &event) == 0;
    } else if (!r.in_epoll && errno == EEXIST) {
      epoll_ctl(epoll_, EPOLL_CTL_MOD, fd, &event);
      r.in_epoll = true;
    }
  }

  void dispatch(const epoll_event& event) {
    if (event.data.fd == wakeup_) {
      std::uint64_t count;
      [[maybe_unused]] auto drained = read(wakeup_, &count, sizeof count);
      return;
    }
    auto it = registrations_.find(event.data.fd);
    if (it == registrations_.end()) return;
    Registration& r = it->second;
    const bool failed = (event.events & (EPOLLERR | EPOLLHUP)) != 0;
    context* self = context::active();
    if (r.reader && (failed || (event.events & (EPOLLIN | EPOLLRDHUP)))) {
      r.reader_woken = true;
      self->schedule(std::exchange(r.reader, nullptr));
    }
    if (r.writer && (failed || (event.events & EPOLLOUT))) {
      r.writer_woken = true;
      self->schedule(std::exchange(r.writer, nullptr));
    }
    if (r.reader || r.writer) arm(event.data.fd, r);
  }

  boost::fibers::scheduler::ready_queue_type ready_;
  std::unordered_map<int, Registration> registrations_;
  int epoll_ = -1;
  int wakeup_ = -1;
};

bool poll_blocking(int fd, Interest interest, Deadline deadline) {
  pollfd p{fd, static_cast<short>(interest == Interest::readable ? POLLIN : POLLOUT), 0};
  for (;;) {
    int timeout_ms = -1;
    if (deadline) {
      const auto left = *deadline - Clock::now();
      if (left <= Clock::duration::zero()) return false;
      timeout_ms = static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
    }
    const int n = poll(&p, 1, timeout_ms);
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) throw_errno("poll");
  }
}

}  // namespace

void use_reactor_scheduler() {
  boost::fibers::use_scheduling_algorithm<ReactorAlgorithm>();
}

bool reactor_installed() {
  return t_reactor != nullptr;
}

bool wait_for(int fd, Interest interest, Deadline deadline) {
  if (t_reactor == nullptr) return poll_blocking(fd, interest, deadline);
  return t_reactor->wait(fd, interest, deadline);
}

void forget(int fd) {
  if (t_reactor != nullptr) t_reactor->forget(fd);
}

}  // namespace orgquake::io
