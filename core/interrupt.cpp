#include "core/interrupt.hpp"

#include <csignal>
#include <signal.h>
#include <string>
#include <unistd.h>

namespace orgquake {
namespace {

volatile std::sig_atomic_t g_pending_signal = 0;

extern "C" void record_signal(int signal) {
  g_pending_signal = signal;
}

}  // namespace

Interrupted::Interrupted(int signal)
    : std::runtime_error("interrupted by signal " + std::to_string(signal)), signal_(signal) {}

void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = record_signal;
  sigemptyset(&action.sa_mask);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaction(signal, &action, nullptr);
  // A reader that goes away (`orgquake ... | head`) must not kill us before cleanup.
  std::signal(SIGPIPE, SIG_IGN);
}

int pending_interrupt() {
  return g_pending_signal;
}

void throw_if_interrupted() {
  if (g_pending_signal != 0) throw Interrupted(g_pending_signal);
}

int wait_for_interrupt() {
  sigset_t stop_signals, previous;
  sigemptyset(&stop_signals);
  for (int signal : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&stop_signals, signal);
  // Block first, then check, then sigsuspend: no signal can slip in between.
  pthread_sigmask(SIG_BLOCK, &stop_signals, &previous);
  while (g_pending_signal == 0) sigsuspend(&previous);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return g_pending_signal;
}

}  // namespace orgquake
