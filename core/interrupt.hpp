#pragma once

#include <stdexcept>

namespace orgquake {

/// Thrown at a safe point after SIGINT, SIGTERM or SIGHUP, so that the stack
/// unwinds and every service the harness started is stopped and cleaned up.
class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal);
  int signal() const { return signal_; }

 private:
  int signal_;
};

/// Routes SIGINT, SIGTERM and SIGHUP to a flag instead of killing the process.
/// Call once, from main, before starting any child.
void install_interrupt_handlers();

/// The signal that asked us to stop, or 0.
int pending_interrupt();

/// Throws Interrupted if a stop signal arrived. Call it in every wait loop.
void throw_if_interrupted();

/// Blocks the calling thread until a stop signal arrives; returns the signal.
int wait_for_interrupt();

}  // namespace orgquake
