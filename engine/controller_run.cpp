#include "engine/controller_run.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <optional>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/one_line.hpp"
#include "engine/scenario.hpp"
#include "engine/trial.hpp"
#include "faults/stacked_faults.hpp"
#include "history/operations.hpp"
#include "invariants/invariant.hpp"
#include "invariants/observed_world.hpp"
#include "migrator/io/pg_connection.hpp"
#include "migrator/migrator.hpp"
#include "world/trial_database.hpp"
#include "world/world.hpp"

namespace orgquake::engine {

using results::InvariantResult;
using results::RunResult;
using results::TrialResult;
using results::TrialStats;
namespace {

using Clock = std::chrono::steady_clock;
using results::Validity;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

/// The trials a request runs, in suite order.
struct PlannedTrial {
  int index;
  const Scenario* scenario;
  const ScenarioEntry* entry;
  std::uint64_t seed;
};

std::vector<PlannedTrial> plan_trials(const RunRequest& request) {
  std::vector<PlannedTrial> planned;
  int index = 0;
  int selected_before_shard = 0;
  for (const auto& entry : request.spec.scenarios) {
    const Scenario* scenario = find_scenario(entry.scenario);
    if (scenario == nullptr) throw UsageError("unknown scenario " + entry.scenario);
    for (int k = 0; k < request.spec.trials; ++k, ++index) {
      if (request.scenario && *request.scenario != entry.scenario) continue;
      if (request.trial && *request.trial != index) continue;
      ++selected_before_shard;
      if (request.shard && index % request.shard->count != request.shard->index - 1) continue;
      if (request.only_trials && std::find(request.only_trials->begin(), request.only_trials->end(),
                                           index) == request.only_trials->end()) {
        continue;
      }
      // A replay table pins the seed of every trial of its entry.
      planned.push_back(
          {index, scenario, &entry,
           entry.replay ? entry.replay->seed : trial_seed(request.seed, entry.scenario, k)});
    }
  }
  if (request.only_trials) {
    std::map<int, std::size_t> position;
    for (const int index : *request.only_trials) position.emplace(index, position.size());
    std::stable_sort(planned.begin(), planned.end(), [&](const auto& a, const auto& b) {
      return position.at(a.index) < position.at(b.index);
    });
  }
  if (request.trial && planned.empty()) {
    throw UsageError(fmt::format("the run has no trial {} (it has {})", *request.trial, index));
  }
  if (request.shard && planned.empty() && selected_before_shard > 0) {
    throw UsageError(fmt::format(
        "--shard {}/{}: the selection has {} trials, so this shard has none; use N <= {}",
        request.shard->index, request.shard->count, selected_before_shard, selected_before_shard));
  }
  return planned;
}

std::vector<const invariants::Invariant*> selected_invariants(const SuiteSpec& spec) {
  std::vector<const invariants::Invariant*> selected;
  if (spec.invariants.empty()) {
    for (const auto& invariant : invariants::all_invariants()) selected.push_back(invariant.get());
    return selected;
  }
  for (const auto& name : spec.invariants) {
    const auto* invariant = invariants::find_invariant(name);
    if (invariant == nullptr) throw UsageError("unknown invariant " + name);
    selected.push_back(invariant);
  }
  return selected;
}

TrialStats compute_stats(const history::History& history) {
  TrialStats stats;
  stats.max_concurrent_lookups = history::max_in_flight(history, history::op_lookup);
  for (const auto& event : history.events()) {
    switch (event.type) {
      case history::EventType::invoke:
        ++stats.operations;
        break;
      case history::EventType::ok:
        ++stats.ok;
        break;
      case history::EventType::fail:
        ++stats.failed;
        break;
      case history::EventType::info:
        ++stats.unknown_outcome;
        break;
      case history::EventType::failpoint:
        ++stats.failpoint_hits;
        break;
      case history::EventType::fault:
        ++stats.faults;
        stats.crashes += event.kind == "crash";
        stats.pauses += event.kind == "pause";
        break;
      case history::EventType::phase:
      case history::EventType::redis:
      case history::EventType::rollout:
        break;
    }
    if (event.type == history::EventType::ok || event.type == history::EventType::fail) {
      // Checked when the worker sent it; a dead worker's `info` has none.
      if (const auto waits = event.value.find("lock_waits");
          waits != event.value.end() && waits->is_number_integer()) {
        stats.lock_waits += waits->get<int>();
      }
    }
  }
  return stats;
}

/// Judges the trial's end state and history with every selected invariant.
std::vector<InvariantResult> check(Trial& trial, const world::World& world,
                                   const std::vector<const invariants::Invariant*>& selected) {
  auto pg = io::PgConnection::connect(trial.session_url().conninfo(),
                                      io::after(std::chrono::seconds(10)));
  invariants::ObservedWorld observed{world, pg, invariants::snapshot(trial.stripe()),
                                     invariants::snapshot(trial.litellm()), &trial.history()};
  std::vector<InvariantResult> results;
  for (const auto* invariant : selected) {
    InvariantResult result{std::string(invariant->name()), {}};
    try {
      result.verdict = invariant->check(observed);
    } catch (const std::exception& e) {
      // A check that cannot run cannot decide.
      result.verdict = results::Verdict::unknown(
          fmt::format("{} could not run: {}", invariant->name(), e.what()));
    }
    results.push_back(std::move(result));
  }
  return results;
}

/// Adds one reason why the trial has no verdict of its own; a trial with
/// any is unknown unless an invariant found it invalid.
void add_reason(TrialResult& result, const std::string& reason) {
  if (!result.error.empty()) result.error += "; ";
  result.error += reason;
}

TrialResult run_planned_trial(TrialEnvironment& environment, const PlannedTrial& planned,
                              const SuiteSpec& spec,
                              const std::vector<const invariants::Invariant*>& selected) {
  const auto started = Clock::now();
  TrialResult result;
  result.index = planned.index;
  result.scenario = std::string(planned.scenario->name());
  result.seed = planned.seed;
  const Options options = resolve_options(declared_options(*planned.scenario),
                                          {&spec.options, &planned.entry->overrides});
  result.options = options.json();

  // A trial that cannot even start (its database clone, its fakes, a Redis
  // that will not come back) is undecided; the run goes on and its reports
  // are still written.
  std::optional<Trial> started_trial;
  try {
    std::vector<std::unique_ptr<faults::Fault>> stacked;
    for (std::size_t i = 0; i < planned.entry->faults.size(); ++i) {
      stacked.push_back(faults::stacked_fault(
          planned.entry->faults[i], fmt::format("scenarios.{}.faults[{}]", result.scenario, i)));
    }
    started_trial.emplace(environment, *planned.scenario, options, planned.seed, planned.index,
                          std::move(stacked), planned.entry->replay);
  } catch (const Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    result.error = fmt::format("the trial could not start: {}", e.what());
    result.verdict = Validity::unknown;
    result.duration_s = seconds_since(started);
    return result;
  }
  Trial& trial = *started_trial;
  trial.start_phase(history::phase_run);
  try {
    planned.scenario->run(trial);
  } catch (const Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    result.error = fmt::format("the scenario stopped: {}", e.what());
  }
  // A heal or liveness phase that cannot finish (Redis will not come back, a
  // worker will not start) leaves this trial undecided; the run goes on.
  try {
    trial.heal_phase(trial.settings().run_timeout);
    trial.liveness();
  } catch (const Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    add_reason(result, fmt::format("the heal and liveness phases stopped: {}", e.what()));
  }
  trial.finish_history();
  try {
    result.invariants = check(trial, environment.world, selected);
  } catch (const Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    // The end state could not be read (the database connection, a fake's
    // snapshot): nothing was judged.
    add_reason(result, fmt::format("the checks could not run: {}", e.what()));
  }

  // A scenario that did not exercise its claim has earned no verdict of
  // valid: what it would have shown never happened.
  for (const auto& why : trial.unexercised()) {
    add_reason(result, fmt::format("{} did not exercise its claim: {}", result.scenario, why));
  }
  for (const auto& violation : trial.protocol_violations()) {
    add_reason(result, violation);
  }
  result.verdict = result.error.empty() ? Validity::valid : Validity::unknown;
  for (const auto& invariant : result.invariants) {
    result.verdict = std::max(result.verdict, invariant.verdict.validity);
  }
  // A worker that broke the protocol leaves a history that cannot be
  // trusted either way: not even an invalid verdict is earned.
  if (!trial.protocol_violations().empty()) result.verdict = Validity::unknown;
  result.stats = compute_stats(trial.history());
  result.fault_plan = trial.fault_plan();
  result.choices = trial.choices();
  result.failpoint_order = trial.failpoint_order();
  result.history = std::move(trial.history());
  result.duration_s = seconds_since(started);
  return result;
}

}  // namespace

void print_trial_line(const TrialResult& result, std::size_t position, std::size_t total) {
  fmt::print(
      "[{:>{}}/{}] {:<28} seed {:<20} {:<7} {:>6.2f} s  lookups in flight {:>3}, "
      "lock waits {:>4}, crashes {}, pauses {}\n",
      position, std::to_string(total).size(), total, result.scenario, result.seed,
      results::name_of(result.verdict), result.duration_s, result.stats.max_concurrent_lookups,
      result.stats.lock_waits, result.stats.crashes, result.stats.pauses);
  if (result.verdict == Validity::valid) return;
  if (!result.error.empty()) fmt::print("      error: {}\n", result.error);
  for (const auto& invariant : result.invariants) {
    if (invariant.verdict.validity == Validity::valid) continue;
    fmt::print("      {} {}: {}\n", results::name_of(invariant.verdict.validity), invariant.name,
               invariant.verdict.summary);
    for (std::size_t i = 0; i < invariant.verdict.evidence.size() && i < 3; ++i) {
      const auto& e = invariant.verdict.evidence[i];
      if (e.symptom.empty()) {
        fmt::print("        - {}\n", e.what);
      } else {
        fmt::print("        - [{}] {}\n", e.symptom, e.what);
      }
    }
  }
  fmt::print("      replay: {}\n", result.repro_command);
}

std::uint64_t trial_seed(std::uint64_t run_seed, std::string_view scenario, int k) {
  return Rng(run_seed).derive(fmt::format("trial/{}/{}", scenario, k)).next();
}

std::string git_sha() {
  if (const char* sha = std::getenv("ORGQUAKE_GIT_SHA"); sha != nullptr && *sha != '\0') {
    return sha;
  }
  const std::string command =
      fmt::format("git -C '{}' rev-parse HEAD 2>/dev/null", ORGQUAKE_SOURCE_DIR);
  std::string sha;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[128];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) sha += buffer;
    ::pclose(pipe);
  }
  sha = one_line(std::move(sha));
  return sha.size() == 40 ? sha : "unknown";
}

struct RunSession::State {
  MigratorUnderTest migrator;
  std::unique_ptr<services::Services> services;
  world::World world;
  std::optional<world::TemplateDatabase> database_template;
  // After the template: stopped before it, so its sessions close first.
  std::unique_ptr<services::SessionPool> session_pool;
  std::unique_ptr<WorkerSpares> spares;
  std::optional<TrialEnvironment> environment;
};

RunSession::RunSession(const Setup& setup) : state_(std::make_unique<State>()) {
  // Everything a user can get wrong is checked before anything starts: the
  // migrator's program must start and declare itself (a missing interpreter
  // is one line, before any service runs).
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe");
  if (setup.migrator.built_in()) migrator::make_migrator(setup.migrator.name);
  state_->migrator = describe_migrator(setup.migrator, self, std::chrono::seconds(20));
  state_->services = services::Services::start(setup.services);
  state_->world = world::generate({setup.seed, setup.users});
  state_->database_template.emplace(
      world::TemplateDatabase::create(*state_->services, state_->world));
  // Only now: input that is wrong (a URL, a foreign database) leaves nothing.
  std::filesystem::create_directories(setup.out_dir / "logs");
  if (services::Services::pools_sessions(setup.services)) {
    state_->session_pool = std::make_unique<services::SessionPool>(state_->services->admin_url());
  }
  state_->spares = std::make_unique<WorkerSpares>(
      state_->migrator.command, std::filesystem::absolute(setup.out_dir / "logs"));
  state_->environment.emplace(TrialEnvironment{*state_->services, state_->world,
                                               *state_->database_template, state_->migrator,
                                               std::filesystem::absolute(setup.out_dir / "logs"),
                                               fmt::format("{}-{}", ::getpid(), setup.seed),
                                               state_->session_pool.get(), state_->spares.get()});
}

RunSession::~RunSession() {
  // An embedded server is stopped next and its directory removed: its
  // databases go with it.
  if (state_->database_template && state_->services &&
      state_->services->embedded_postgres() != nullptr) {
    state_->database_template->forget();
  }
}

const MigratorUnderTest& RunSession::migrator() const {
  return state_->migrator;
}
std::size_t RunSession::world_users() const {
  return state_->world.users.size();
}

TrialResult RunSession::run_trial(const SuiteSpec& spec, const ScenarioEntry& entry, int index,
                                  std::uint64_t seed) {
  const Scenario* scenario = find_scenario(entry.scenario);
  if (scenario == nullptr) throw UsageError("unknown scenario " + entry.scenario);
  return run_planned_trial(*state_->environment, {index, scenario, &entry, seed}, spec,
                           selected_invariants(spec));
}

std::vector<PlannedTrialInfo> plan_run(const RunRequest& request) {
  const auto planned = plan_trials(request);
  selected_invariants(request.spec);
  if (planned.empty()) throw UsageError("the selection runs no trial");
  std::vector<PlannedTrialInfo> infos;
  for (const auto& trial : planned) {
    infos.push_back({trial.index, std::string(trial.scenario->name()), trial.seed});
  }
  return infos;
}

RunResult run_header(const RunRequest& request, const MigratorUnderTest& migrator_under_test) {
  RunResult run;
  run.seed = request.seed;
  run.suite = request.spec.name;
  run.migrator = request.migrator.name;
  run.migrator_declaration = request.migrator.to_json();
  run.migrator_description = migrator_under_test.description.to_json();
  run.users = request.spec.users;
  run.git_sha = git_sha();
  run.started_at = utc_now();
  run.out_dir = request.out_dir.string();
  run.spec = request.spec.to_json();
  run.shard = request.shard;
  run.session_pool = services::Services::pools_sessions(request.services);
  return run;
}

RunResult run_suite(const RunRequest& request) {
  const auto started = Clock::now();
  const auto planned = plan_trials(request);
  const auto selected = selected_invariants(request.spec);
  if (planned.empty()) throw UsageError("the selection runs no trial");
  RunSession session(
      {request.seed, request.spec.users, request.migrator, request.services, request.out_dir});

  RunResult run = run_header(request, session.migrator());
  if (request.progress) {
    fmt::print(
        "orgquake run: suite {}, migrator {}, seed {}, {} users, {} trials; services "
        "ready in {:.2f} s\n",
        run.suite, run.migrator, run.seed, session.world_users(), planned.size(),
        seconds_since(started));
    std::fflush(stdout);
  }

  const bool terminal = ::isatty(STDOUT_FILENO) == 1;
  std::map<int, std::size_t> position_of;
  for (std::size_t i = 0; i < planned.size(); ++i) position_of[planned[i].index] = i;
  for (std::size_t n = 0;; ++n) {
    throw_if_interrupted();
    std::size_t i = n;
    if (request.next_trial) {
      const auto next = request.next_trial();
      if (!next) break;
      i = position_of.at(*next);
    } else if (n == planned.size()) {
      break;
    }
    if (request.progress && terminal) {
      fmt::print("[{}/{}] {} seed {} running...\r", i + 1, planned.size(),
                 planned[i].scenario->name(), planned[i].seed);
      std::fflush(stdout);
    }
    TrialResult result =
        session.run_trial(request.spec, *planned[i].entry, planned[i].index, planned[i].seed);
    result.repro_command =
        fmt::format("orgquake repro {} --trial {}", request.out_dir.string(), result.index);
    run.verdict = std::max(run.verdict, result.verdict);
    if (request.on_trial) request.on_trial(result);
    if (request.progress) {
      if (terminal) fmt::print("\x1b[2K");
      print_trial_line(result, i + 1, planned.size());
      std::fflush(stdout);
    }
    run.trials.push_back(std::move(result));
  }
  run.duration_s = seconds_since(started);
  return run;
}

}  // namespace orgquake::engine
