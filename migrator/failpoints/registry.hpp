#pragma once

// The failpoint registry: which failpoints are armed and how, the log of
// firings, the observer, and the release of paused callers. This is the one
// place in orgquake that holds global mutable state: a call site deep in the
// migrator has no context to consult, only a name. Every function here is safe
// to call from any thread and any Boost.Fiber fiber.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "migrator/failpoints/hit.hpp"

namespace orgquake::failpoints {

/// The environment variable read by configure_from_environment().
inline constexpr std::string_view environment_variable = "ORGQUAKE_FAILPOINTS";

/// Seeds the p% draws with the run's seed. Each failpoint draws from its own
/// stream, Rng(seed).derive(name), restarted here and whenever the failpoint is
/// configured, so hits of one failpoint never shift the draws of another.
/// Before any call the seed is 0.
void set_seed(std::uint64_t seed);

/// Applies `name=spec[;name=spec...]` (see spec_parser.hpp): each named
/// failpoint takes its new configuration, the others keep theirs. Nothing
/// changes if any part is wrong; UsageError says which.
void configure(std::string_view text);

/// Applies ORGQUAKE_FAILPOINTS if it is set and returns whether it was. Call it
/// explicitly at start-up, after set_seed(), never from a static initializer.
/// A bad value throws UsageError naming the variable.
bool configure_from_environment();

/// Configures one failpoint with a spec such as "2*sleep(100)->off".
void set(std::string_view name, std::string_view spec);

/// Disarms one failpoint, or all. Callers paused at it are released.
void clear(std::string_view name);
void clear_all();

/// Wakes every caller paused at `name` (or at any failpoint). A caller that
/// reaches a pause afterwards pauses again: release() is not a permit.
void release(std::string_view name);
void release_all();

/// How many callers are blocked at `name` right now.
std::size_t paused_count(std::string_view name);

/// Every firing since the log was last cleared or taken, in sequence order.
std::vector<Hit> hits();
void clear_hits();
/// Returns the log and empties it in one step, so that a worker shipping hits
/// to the controller loses none that fire between reading and clearing.
std::vector<Hit> take_hits();

/// Called synchronously on every firing, in the firing fiber, before the
/// action runs (so a crash is announced before it happens). It may block to
/// hold the caller back, which is how the controller orders hits across
/// processes; blocking on Boost.Fiber primitives holds only the firing fiber.
/// It may call back into the registry. An empty function removes it.
using Observer = std::function<void(const Hit&)>;
void set_observer(Observer observer);

/// A failpoint as `orgquake list` shows it.
struct FailpointState {
  std::string_view name;
  std::string_view description;
  /// The canonical spec, e.g. "50%crash"; empty when disarmed.
  std::string configuration;
  std::size_t paused = 0;
};

/// Every failpoint of the list, in list order, with its current configuration.
std::vector<FailpointState> describe();

}  // namespace orgquake::failpoints
