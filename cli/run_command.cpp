// orgquake run: the chaos engine's main job. Runs a suite's trials against a
// migrator, writes results.json, junit.xml, history.jsonl and report.html,
// and exits 0 (valid), 1 (invalid) or 2 (unknown, or a harness error).
#include <charconv>
#include <chrono>
#include <ctime>
#include <random>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/run_output.hpp"
#include "core/error.hpp"
#include "engine/controller_run.hpp"
#include "engine/scenario.hpp"
#include "engine/suite_spec.hpp"

namespace orgquake::cli {
namespace {

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
};

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
