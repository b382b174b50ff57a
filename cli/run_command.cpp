// orgquake run: the chaos engine's main job. Runs a suite's trials against a
// migrator, writes results.json, junit.xml, history.jsonl and report.html,
// and exits 0 (valid), 1 (invalid) or 2 (unknown, or a harness error).
#include <charconv>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/run_output.hpp"
#include "core/error.hpp"
#include "engine/controller_run.hpp"
#include "engine/parallel_run.hpp"
#include "engine/scenario.hpp"
#include "engine/suite_spec.hpp"
#include "reports/atomic_file.hpp"
#include "reports/results_json.hpp"
#include "reports/run_reports.hpp"
#include "results/run_result_json.hpp"

namespace orgquake::cli {
namespace {

/// --jobs when not given: ORGQUAKE_JOBS (a CI runner that shares its cores
/// caps it there), else the number of cores.
int default_jobs() {
  if (const char* text = std::getenv("ORGQUAKE_JOBS"); text != nullptr && *text != '\0') {
    int jobs = 0;
    const std::string_view value(text);
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), jobs);
    if (ec != std::errc{} || end != value.data() + value.size() || jobs < 1 || jobs > 256) {
      throw UsageError(
          fmt::format("ORGQUAKE_JOBS: '{}' is not a whole number of jobs in 1..256", value));
    }
    return jobs;
  }
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

struct RunOptions {
  std::optional<std::string> suite;
  std::optional<std::string> spec_file;
  std::optional<std::string> scenario;
  std::optional<std::string> seed;  ///< digits; parsed by parse_seed()
  std::optional<int> trials;
  std::optional<int> users;
  std::optional<std::string> migrator;
  std::vector<std::string> migrator_files;
  std::optional<std::string> out;
  services::ServicesOptions services;
  std::optional<int> jobs;           ///< default_jobs() when not given
  std::optional<std::string> shard;  ///< "K/N"; parsed by parse_shard()
  /// A lane of a parallel run (hidden): the trial indexes it runs, and where
  /// it leaves each finished trial for its parent.
  std::optional<std::string> lane_trials;
  std::optional<std::string> lane_dir;
};

/// --shard K/N: 1 <= K <= N.
results::Shard parse_shard(const std::string& text) {
  const auto slash = text.find('/');
  int k = 0, n = 0;
  const auto parse = [](std::string_view part, int& value) {
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), value);
    return !part.empty() && ec == std::errc{} && end == part.data() + part.size();
  };
  if (slash == std::string::npos || !parse(std::string_view(text).substr(0, slash), k) ||
      !parse(std::string_view(text).substr(slash + 1), n) || n < 1 || k < 1 || k > n) {
    throw UsageError(fmt::format(
        "--shard: '{}' is not K/N with whole numbers 1 <= K <= N (for example 2/4)", text));
  }
  return {k, n};
}

std::vector<int> parse_lane_trials(const std::string& text) {
  std::vector<int> indexes;
  std::size_t start = 0;
  while (start <= text.size()) {
    const auto comma = std::min(text.find(',', start), text.size());
    int index = 0;
    const std::string_view part(text.data() + start, comma - start);
    auto [end, ec] = std::from_chars(part.data(), part.data() + part.size(), index);
    if (part.empty() || ec != std::errc{} || end != part.data() + part.size() || index < 0) {
      throw UsageError(fmt::format("--lane-trials: '{}' is not a list of trial indexes", text));
    }
    indexes.push_back(index);
    start = comma + 1;
  }
  return indexes;
}

/// A lane's number: the name of its directory (engine::run_suite_in_lanes).
int parse_lane_number(const std::filesystem::path& lane_dir) {
  const std::string name = lane_dir.filename().string();
  int number = 0;
  const auto [end, error] = std::from_chars(name.data(), name.data() + name.size(), number);
  if (error != std::errc() || end != name.data() + name.size() || number < 1) {
    throw UsageError(fmt::format("--lane-dir: '{}' does not end in a lane number", name));
  }
  return number;
}

/// The command line that makes a child `orgquake run` one lane of `options`'
/// run: the same suite, seed and migrator, its own trials and services.
std::vector<std::string> lane_arguments(const RunOptions& options,
                                        const engine::RunRequest& request,
                                        const std::vector<int>& queue,
                                        const std::filesystem::path& lane_dir) {
  std::vector<std::string> args{"run"};
  const auto add = [&](const char* flag, const std::string& value) {
    args.push_back(flag);
    args.push_back(value);
  };
  if (options.spec_file) add("--spec", std::filesystem::absolute(*options.spec_file).string());
  if (options.suite) add("--suite", *options.suite);
  if (options.scenario) add("--scenario", *options.scenario);
  if (options.trials) add("--trials", std::to_string(*options.trials));
  if (options.users) add("--users", std::to_string(*options.users));
  if (options.migrator) add("--migrator", *options.migrator);
  for (const auto& file : options.migrator_files) {
    add("--migrators", std::filesystem::absolute(file).string());
  }
  if (options.services.pg_url) add("--pg-url", *options.services.pg_url);
  if (options.services.redis_url) add("--redis-url", *options.services.redis_url);
  if (!options.services.session_pool) args.push_back("--no-session-pool");
  add("--seed", std::to_string(request.seed));
  add("--out", std::filesystem::absolute(request.out_dir).string());
  add("--jobs", "1");
  std::string list;
  for (int index : queue) list += (list.empty() ? "" : ",") + std::to_string(index);
  add("--lane-trials", list);
  add("--lane-dir", lane_dir.string());
  return args;
}

std::string scenario_names() {
  std::string names;
  for (const auto& s : engine::all_scenarios()) {
    names += (names.empty() ? "" : ", ") + std::string(s->name());
  }
  return names;
}

/// The suite `orgquake run --scenario NAME` runs when no suite is named: the
/// first built-in suite that lists the scenario (smoke, then ci, then
/// nightly), so that it runs with the options it is meant to have; else a
/// suite of that scenario alone, with its defaults.
engine::SuiteSpec suite_for(const std::string& scenario) {
  for (const char* name : {"smoke", "ci", "nightly"}) {
    auto suite = engine::load_suite(name);
    for (const auto& entry : suite.scenarios) {
      if (entry.scenario == scenario) return suite;
    }
  }
  if (engine::find_scenario(scenario) == nullptr) {
    throw UsageError(fmt::format("--scenario: unknown scenario \"{}\"; scenarios: {}", scenario,
                                 scenario_names()));
  }
  return engine::parse_suite_spec(fmt::format("[scenarios.{}]\n", scenario),
                                  fmt::format("scenario {}", scenario), scenario);
}

int run(const RunOptions& options) {
  engine::RunRequest request;
  request.spec = options.spec_file  ? engine::load_spec_file(*options.spec_file)
                 : options.suite    ? engine::load_suite(*options.suite)
                 : options.scenario ? suite_for(*options.scenario)
                                    : engine::load_suite("smoke");
  if (options.trials) request.spec.trials = *options.trials;
  if (options.users) request.spec.users = *options.users;
  if (options.scenario) {
    if (engine::find_scenario(*options.scenario) == nullptr) {
      throw UsageError(fmt::format("--scenario: unknown scenario \"{}\"; scenarios: {}",
                                   *options.scenario, scenario_names()));
    }
    const auto& entries = request.spec.scenarios;
    if (std::none_of(entries.begin(), entries.end(),
                     [&](const auto& e) { return e.scenario == *options.scenario; })) {
      std::string listed;
      for (const auto& e : entries) listed += (listed.empty() ? "" : ", ") + e.scenario;
      throw UsageError(fmt::format("--scenario: {} does not list \"{}\"; it has: {}",
                                   request.spec.source, *options.scenario, listed));
    }
    request.scenario = options.scenario;
  }
  request.seed = options.seed        ? parse_seed(*options.seed)
                 : request.spec.seed ? *request.spec.seed
                                     : (static_cast<std::uint64_t>(std::random_device{}()) << 32) |
                                           std::random_device{}();
  request.migrator =
      migrator_catalog(request.spec, options.migrator_files)
          .find(options.migrator.value_or(request.spec.migrator.value_or("reference")));
  request.out_dir = options.out.value_or(default_out_dir(request.spec.name, request.seed));
  request.services = options.services;
  if (options.shard) request.shard = parse_shard(*options.shard);

  if (options.lane_trials || options.lane_dir) {
    if (!options.lane_trials || !options.lane_dir) {
      throw UsageError("--lane-trials and --lane-dir go together (a lane of --jobs)");
    }
    // A lane: the trials of the run's queue it claims first, each handed
    // over as a whole file; the parent prints, and writes the reports.
    request.only_trials = parse_lane_trials(*options.lane_trials);
    request.progress = false;
    const std::filesystem::path lane_dir = *options.lane_dir;
    const auto lane = parse_lane_number(lane_dir);
    auto lane_queue = std::make_shared<engine::LaneQueue>(engine::lane_claims_dir(lane_dir), lane,
                                                          engine::plan_run(request));
    request.next_trial = [lane_queue] { return lane_queue->next(); };
    request.on_trial = [lane_dir, lane_queue](const results::TrialResult& trial) {
      reports::write_file_atomically(
          engine::lane_trial_file(lane_dir, trial.index),
          reports::dump_report_json(results::trial_with_history_to_json(trial)));
      lane_queue->finished(trial.scenario, trial.duration_s);
    };
    engine::run_suite(request);
    return 0;
  }
  const auto planned = engine::plan_run(request);
  const int jobs = options.jobs.value_or(default_jobs());
  if (jobs > 1 && planned.size() > 1) {
    // The reports are written while the lanes stop their services.
    std::optional<reports::ReportFiles> written;
    const auto run = engine::run_suite_in_lanes(
        request, jobs,
        [&](const std::vector<int>& queue, const std::filesystem::path& dir) {
          return lane_arguments(options, request, queue, dir);
        },
        [&](const results::RunResult& all_in) {
          written = reports::write_run_reports(all_in, request.out_dir);
        });
    return finish_run(run, request.out_dir, written);
  }
  return finish_run(engine::run_suite(request), request.out_dir);
}

}  // namespace

void add_run_command(CLI::App& app, Action& action) {
  auto options = std::make_shared<RunOptions>();
  auto* run_cmd = app.add_subcommand(
      "run", "Run a suite's scenarios against a migrator and judge the invariants");
  auto* suite = run_cmd->add_option("--suite", options->suite,
                                    "Built-in suite: smoke, ci, nightly or rollout (default smoke; "
                                    "with --scenario, the first that "
                                    "lists it)");
  run_cmd->add_option("--spec", options->spec_file, "A suite spec file (TOML)")->excludes(suite);
  run_cmd->add_option("--scenario", options->scenario, "Only this scenario of the suite");
  run_cmd->add_option("--seed", options->seed,
                      "Seed of every random choice (default: the suite's, else random; printed)");
  run_cmd->add_option("--trials", options->trials, "Trials per scenario (default: the suite's)")
      ->check(CLI::Range(1, 10000));
  run_cmd
      ->add_option("--users", options->users,
                   "Legacy users in the fixture world (default: the suite's)")
      ->check(CLI::Range(1, 1000000));
  run_cmd->add_option("--migrator", options->migrator,
                      "Migrator under test: built in (see orgquake list) or declared in a "
                      "--migrators file (default reference)");
  run_cmd->add_option("--migrators", options->migrator_files,
                      "A TOML file of [migrators.NAME] tables: migrators in any language "
                      "(docs/worker-protocol.md); may be given more than once");
  run_cmd->add_option("--out", options->out,
                      "Directory for results.json, junit.xml, history.jsonl, report.html "
                      "(default reports/out/<time>-<suite>-<seed>)");
  run_cmd->add_option("--pg-url", options->services.pg_url,
                      "Use this PostgreSQL instead of starting one (or ORGQUAKE_PG_URL)");
  run_cmd->add_option("--redis-url", options->services.redis_url,
                      "Use this Redis instead of starting one (or ORGQUAKE_REDIS_URL)");
  run_cmd->add_flag("!--no-session-pool", options->services.session_pool,
                    "Clients connect to the embedded PostgreSQL themselves, a new session each, "
                    "instead of through the pool of kept sessions (recorded in results.json; "
                    "repro and shrink follow it)");
  run_cmd
      ->add_option("--jobs", options->jobs,
                   "Trials run at once, each in its own lane with its own services (default: the "
                   "number of cores, or ORGQUAKE_JOBS); results are those of a serial run")
      ->check(CLI::Range(1, 256));
  run_cmd->add_option("--shard", options->shard,
                      "Only the K-th of N disjoint slices of the trials (K/N, e.g. 2/4); join the "
                      "shards' directories with orgquake merge");
  // A lane of --jobs: started by the parent run, not by people.
  run_cmd->add_option("--lane-trials", options->lane_trials)->group("");
  run_cmd->add_option("--lane-dir", options->lane_dir)->group("");
  run_cmd->callback([options, &action] { action = [options] { return run(*options); }; });
}

engine::MigratorCatalog migrator_catalog(const engine::SuiteSpec& spec,
                                         const std::vector<std::string>& files) {
  auto catalog = engine::MigratorCatalog::with_built_ins();
  for (const auto& declared : spec.migrators) catalog.add(declared);
  for (const auto& file : files) catalog.add_file(file);
  return catalog;
}

std::uint64_t parse_seed(const std::string& text) {
  // Parsed here rather than by CLI11, which wraps "-3" around to 2^64 - 3 and
  // saturates numbers that are too large.
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    throw UsageError(
        fmt::format("--seed: '{}' is not a whole number from 0 to 18446744073709551615", text));
  }
  return value;
}

std::string default_out_dir(std::string_view label, std::uint64_t seed) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &tm);
  return fmt::format("reports/out/{}-{}-{}", stamp, label, seed);
}

std::string human_duration(std::chrono::microseconds duration) {
  if (duration < std::chrono::seconds(1)) {
    return fmt::format("{:.1f} ms", static_cast<double>(duration.count()) / 1e3);
  }
  return fmt::format("{:.2f} s", static_cast<double>(duration.count()) / 1e6);
}

}  // namespace orgquake::cli
