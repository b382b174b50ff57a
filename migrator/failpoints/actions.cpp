#include "migrator/failpoints/actions.hpp"

#include <signal.h>
#include <unistd.h>

#include <boost/fiber/operations.hpp>

#include "migrator/failpoints/injected_error.hpp"

namespace orgquake::failpoints::detail {

void perform_action(const Term& term, std::string_view failpoint) {
  switch (term.action) {
    case Action::off:
      return;
    case Action::return_error:
      throw InjectedError(failpoint, term.text);
    case Action::sleep:
      // this_fiber, not this_thread: the other fibers of the worker keep running,
      // as other requests of an app server do while one waits.
      boost::this_fiber::sleep_for(term.duration);
      return;
    case Action::yield:
      boost::this_fiber::yield();
      return;
    case Action::crash:
      crash_process();
    case Action::pause:
      // Run by the registry, which owns the release signal; reaching here is a bug.
      return;
  }
}

void crash_process() {
  ::kill(::getpid(), SIGKILL);
  // SIGKILL is delivered before kill() returns to a user-space caller in
  // practice; never let the caller continue if it is not.
  for (;;) ::pause();
}

}  // namespace orgquake::failpoints::detail
