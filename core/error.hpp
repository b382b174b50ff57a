#pragma once

#include <stdexcept>
#include <string>

namespace orgquake {

/// Process exit codes, as CI gates on them (DESIGN.md section 2).
enum class ExitCode : int {
  valid = 0,          ///< every invariant held
  invalid = 1,        ///< some invariant was violated
  harness_error = 2,  ///< unknown verdict, bad input, or the harness itself failed
};

/// Something the user asked for is wrong: a flag, a URL, a spec, a name.
/// The message is one line that says what was wrong and what to do.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The environment let the harness down: a missing binary, a port in use, a
/// server that would not start, a database that is not ours.
class EnvironmentError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Formats errno as "what: strerror(errno)".
std::string errno_message(const std::string& what, int err);

/// Throws EnvironmentError with errno_message(what, errno).
[[noreturn]] void throw_errno(const std::string& what);

}  // namespace orgquake
