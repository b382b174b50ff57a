#pragma once

#include <string_view>

#include "migrator/failpoints/spec.hpp"

namespace orgquake::failpoints::detail {

/// Runs the action of a triggered term at the call site of `failpoint`:
/// off does nothing; return throws InjectedError; sleep and yield suspend only
/// the calling fiber; crash kills the process with SIGKILL. Pause needs the
/// registry's release signal and is run there instead.
void perform_action(const Term& term, std::string_view failpoint);

/// Ends the process as a killed server ends: SIGKILL to itself, so no
/// destructor, atexit handler or buffered write runs, and the kernel closes
/// the sockets.
[[noreturn]] void crash_process();

}  // namespace orgquake::failpoints::detail
