#include "migrator/failpoints/registry.hpp"

#include <array>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <optional>
#include <unistd.h>
#include <utility>

#include <boost/fiber/condition_variable.hpp>
#include <boost/fiber/mutex.hpp>
#include <boost/fiber/operations.hpp>
#include <fmt/format.h>

#include "core/error.hpp"
#include "core/random.hpp"
#include "migrator/failpoints/actions.hpp"
#include "migrator/failpoints/failpoint.hpp"
#include "migrator/failpoints/spec_parser.hpp"

namespace orgquake::failpoints {
namespace detail {

constinit std::atomic<bool> armed_flags[failpoint_count]{};

}  // namespace detail
namespace {

struct PointState {
  std::optional<Spec> spec;
  /// Triggers left for each term with an n* budget, parallel to spec->terms.
  std::vector<std::uint64_t> remaining;
  Rng rng{0};
  /// Bumped by every release and reconfiguration; a paused caller waits for it to move.
  std::uint64_t release_generation = 0;
  std::size_t paused = 0;
};

// boost::fibers primitives rather than std ones: a fiber blocked on them
// suspends alone, while a std::mutex would block every fiber of its thread.
// They work across threads too, and on a plain thread's main fiber.
struct Registry {
  boost::fibers::mutex mutex;
  boost::fibers::condition_variable released;
  std::uint64_t seed = 0;
  std::array<PointState, failpoint_count> points;
  std::vector<Hit> hits;
  std::uint64_t next_sequence = 0;
  std::shared_ptr<const Observer> observer;
};

Registry& registry() {
  // Never destroyed: a thread may still pass a failpoint while the process exits.
  static Registry* const instance = new Registry();
  return *instance;
}

Rng stream_for(std::uint64_t seed, Failpoint point) {
  return Rng(seed).derive(name_of(point));
}

// The caller holds the registry's mutex.
void arm(Registry& reg, Failpoint point, Spec spec) {
  PointState& state = reg.points[index_of(point)];
  state.remaining.clear();
  for (const Term& term : spec.terms) state.remaining.push_back(term.max_triggers.value_or(0));
  state.spec = std::move(spec);
  state.rng = stream_for(reg.seed, point);
  ++state.release_generation;
  detail::armed_flags[index_of(point)].store(true, std::memory_order_relaxed);
}

// The caller holds the registry's mutex.
void disarm(Registry& reg, Failpoint point) {
  PointState& state = reg.points[index_of(point)];
  detail::armed_flags[index_of(point)].store(false, std::memory_order_relaxed);
  state.spec.reset();
  state.remaining.clear();
  ++state.release_generation;
}

/// What fire() decided under the mutex and carries out after releasing it.
struct Firing {
  Term term;
  Hit hit;
  std::shared_ptr<const Observer> observer;
  std::uint64_t release_generation = 0;
};

// The caller holds the registry's mutex. Tries the terms in order, as fail-rs
// does: a spent n* budget or a missed p% draw passes to the next term.
std::optional<Firing> choose_firing(Registry& reg, Failpoint point) {
  PointState& state = reg.points[index_of(point)];
  if (!state.spec) return std::nullopt;  // disarmed after the call site looked
  for (std::size_t i = 0; i < state.spec->terms.size(); ++i) {
    const Term& term = state.spec->terms[i];
    if (term.max_triggers && state.remaining[i] == 0) continue;
    // 100% draws nothing, so adding a certain term leaves the stream as it was.
    if (term.percent < 100.0 && !state.rng.chance(term.percent / 100.0)) continue;
    if (term.max_triggers) --state.remaining[i];

    Firing firing;
    firing.term = term;
    firing.hit.sequence = reg.next_sequence++;
    firing.hit.failpoint = name_of(point);
    firing.hit.action = term.action;
    firing.hit.argument = argument_of(term);
    firing.hit.at = std::chrono::steady_clock::now();
    firing.hit.process_id = ::getpid();
    firing.hit.thread_id = ::gettid();
    firing.hit.fiber_id = boost::this_fiber::get_id();
    firing.observer = reg.observer;
    firing.release_generation = state.release_generation;
    reg.hits.push_back(firing.hit);
    return firing;
  }
  return std::nullopt;
}

void wait_for_release(Registry& reg, Failpoint point, std::uint64_t generation_at_hit) {
  std::unique_lock lock(reg.mutex);
  PointState& state = reg.points[index_of(point)];
  // A release between the hit and here (say, by the observer) already counts.
  ++state.paused;
  reg.released.wait(lock, [&] { return state.release_generation != generation_at_hit; });
  --state.paused;
}

void release_locked(Registry& reg, Failpoint point) {
  ++reg.points[index_of(point)].release_generation;
}

}  // namespace

namespace detail {

void fire(Failpoint point) {
  Registry& reg = registry();
  std::optional<Firing> firing;
  {
    std::unique_lock lock(reg.mutex);
    firing = choose_firing(reg, point);
  }
  if (!firing) return;
  // Outside the mutex: the observer may block, or call back into the registry.
  if (firing->observer) (*firing->observer)(firing->hit);
  if (firing->term.action == Action::pause) {
    wait_for_release(reg, point, firing->release_generation);
  } else {
    perform_action(firing->term, name_of(point));
  }
}

}  // namespace detail

void set_seed(std::uint64_t seed) {
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  reg.seed = seed;
  for (Failpoint point : all_failpoints())
    reg.points[index_of(point)].rng = stream_for(seed, point);
}

void configure(std::string_view text) {
  // Parse everything before touching anything, so a mistake changes nothing.
  std::vector<Setting> settings = parse_configuration(text);
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  for (Setting& setting : settings) arm(reg, setting.point, std::move(setting.spec));
  reg.released.notify_all();
}

bool configure_from_environment() {
  const std::string variable(environment_variable);
  const char* value = std::getenv(variable.c_str());
  if (value == nullptr) return false;
  try {
    configure(value);
  } catch (const UsageError& error) {
    throw UsageError(fmt::format("{}: {}", variable, error.what()));
  }
  return true;
}

void set(std::string_view name, std::string_view spec) {
  const Failpoint point = require_failpoint(name);
  Spec parsed = parse_spec(name, spec);
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  arm(reg, point, std::move(parsed));
  reg.released.notify_all();
}

void clear(std::string_view name) {
  const Failpoint point = require_failpoint(name);
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  disarm(reg, point);
  reg.released.notify_all();
}

void clear_all() {
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  for (Failpoint point : all_failpoints()) disarm(reg, point);
  reg.released.notify_all();
}

void release(std::string_view name) {
  const Failpoint point = require_failpoint(name);
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  release_locked(reg, point);
  reg.released.notify_all();
}

void release_all() {
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  for (Failpoint point : all_failpoints()) release_locked(reg, point);
  reg.released.notify_all();
}

std::size_t paused_count(std::string_view name) {
  const Failpoint point = require_failpoint(name);
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  return reg.points[index_of(point)].paused;
}

std::vector<Hit> hits() {
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  return reg.hits;
}

void clear_hits() {
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  reg.hits.clear();
}

std::vector<Hit> take_hits() {
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  return std::exchange(reg.hits, {});
}

void set_observer(Observer observer) {
  auto shared = observer ? std::make_shared<const Observer>(std::move(observer)) : nullptr;
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  reg.observer = std::move(shared);
}

std::vector<FailpointState> describe() {
  Registry& reg = registry();
  std::unique_lock lock(reg.mutex);
  std::vector<FailpointState> states;
  for (Failpoint point : all_failpoints()) {
    const PointState& state = reg.points[index_of(point)];
    states.push_back({name_of(point), description_of(point),
                      state.spec ? to_string(*state.spec) : std::string(), state.paused});
  }
  return states;
}

}  // namespace orgquake::failpoints
