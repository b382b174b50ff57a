#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace orgquake::failpoints {

/// What a failpoint does when one of its terms triggers.
enum class Action : std::uint8_t {
  off,           ///< nothing, but the hit is still logged and observed
  return_error,  ///< the call site throws InjectedError carrying the argument text
  sleep,         ///< the calling fiber sleeps for the argument in milliseconds
  yield,         ///< the calling fiber yields to the other fibers of its thread
  pause,         ///< the calling fiber blocks until release() or reconfiguration
  crash,         ///< the process dies by SIGKILL, as a killed server does
};

/// The keyword of `action` in the configuration grammar: "return" for return_error.
std::string_view keyword_of(Action action);

/// One `[p%][n*]action[(arg)]` of a chain.
struct Term {
  /// Chance in percent, 0 to 100, that the term triggers when it is reached.
  double percent = 100.0;
  /// How many times the term may trigger; empty means without limit.
  std::optional<std::uint64_t> max_triggers;
  Action action = Action::off;
  /// The error text of return_error; empty for the other actions.
  std::string text;
  /// The duration of sleep; zero for the other actions.
  std::chrono::milliseconds duration{0};

  friend bool operator==(const Term&, const Term&) = default;
};

/// A failpoint's configuration: `term[->term...]`. Evaluation tries the terms
/// in order and the first that triggers wins; a term passes to the next when
/// its n* budget is spent or its p% draw misses (as fail-rs does). When no
/// term triggers the failpoint does nothing and logs nothing.
struct Spec {
  std::vector<Term> terms;

  friend bool operator==(const Spec&, const Spec&) = default;
};

/// The argument of `term` as the grammar writes it: the text of return, the
/// milliseconds of sleep, empty otherwise.
std::string argument_of(const Term& term);

/// The canonical text of a term or spec, which parses back to the same value:
/// "50%2*sleep(100)->off".
std::string to_string(const Term& term);
std::string to_string(const Spec& spec);

}  // namespace orgquake::failpoints
