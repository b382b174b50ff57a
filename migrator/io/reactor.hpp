#pragma once

#include <chrono>
#include <optional>

namespace orgquake::io {

using Clock = std::chrono::steady_clock;
using Deadline = std::optional<Clock::time_point>;  ///< nullopt: wait as long as it takes

/// A deadline `timeout` from now.
inline Deadline after(std::chrono::milliseconds timeout) {
  return Clock::now() + timeout;
}

enum class Interest { readable, writable };

/// Makes the calling thread's fibers wait on sockets through one epoll
/// reactor: a fiber that waits for a socket is suspended and the thread runs
/// other fibers; when every fiber waits, the thread sleeps in epoll_wait until
/// a socket is ready, a sleeping fiber's time comes, or another thread
/// schedules a fiber here. This is how the worker's many clients interleave at
/// I/O waits, as async request handlers do.
///
/// Call once per thread, before creating fibers in it:
///
///   io::use_reactor_scheduler();
///   boost::fibers::fiber client([&] { pg.exec("SELECT 1"); });
///   client.join();
void use_reactor_scheduler();

/// True if the calling thread runs the reactor scheduler.
bool reactor_installed();

/// Suspends the calling fiber until `fd` is ready for `interest` (or has an
/// error or hang-up, which the caller's next read or write then reports).
/// Returns false if `deadline` passed first. On a thread without the reactor
/// scheduler it blocks the thread in poll(2), so the same client code also
/// works from plain threads.
bool wait_for(int fd, Interest interest, Deadline deadline);

/// Drops the reactor's registration of `fd`. Call before closing a socket
/// that was waited on: a later socket may reuse the number.
void forget(int fd);

}  // namespace orgquake::io
