#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <sys/types.h>

#include <boost/fiber/context.hpp>

#include "migrator/failpoints/spec.hpp"

namespace orgquake::failpoints {

/// One firing of a failpoint: a term triggered and its action is about to run.
/// The controller merges these with its own history, so each carries enough
/// to place it on a timeline shared by several processes.
struct Hit {
  /// Order of firings in this process, from 0 (clear_hits() does not reset it).
  std::uint64_t sequence = 0;
  /// The `area.step` name; it points into the static failpoint list.
  std::string_view failpoint;
  Action action = Action::off;
  /// The argument as the grammar writes it: the error text, the milliseconds.
  std::string argument;
  /// CLOCK_MONOTONIC, which is one clock for every process on the machine.
  std::chrono::steady_clock::time_point at;
  pid_t process_id = 0;
  /// The kernel's thread id (gettid), as `ps -L` and perf show it.
  pid_t thread_id = 0;
  /// The Boost.Fiber fiber that hit it; a plain thread's main fiber has one too.
  boost::fibers::context::id fiber_id;
};

}  // namespace orgquake::failpoints
