#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include <CLI/CLI.hpp>

#include "engine/migrator_catalog.hpp"
#include "engine/suite_spec.hpp"

namespace orgquake::cli {

/// What a parsed command line does; returns the process exit code.
using Action = std::function<int()>;

/// Each add_*_command registers a subcommand whose parse sets `action`.
void add_run_command(CLI::App& app, Action& action);
void add_services_command(CLI::App& app, Action& action);
void add_fake_command(CLI::App& app, Action& action);
void add_bench_command(CLI::App& app, Action& action);
void add_list_command(CLI::App& app, Action& action);
void add_repro_command(CLI::App& app, Action& action);
void add_mutation_score_command(CLI::App& app, Action& action);
void add_shrink_command(CLI::App& app, Action& action);
void add_merge_command(CLI::App& app, Action& action);
/// The hidden `orgquake worker` that the controller starts for each worker process.
void add_worker_command(CLI::App& app, Action& action);

/// A seed as given on the command line; throws UsageError unless it is a
/// whole number that fits 64 bits.
std::uint64_t parse_seed(const std::string& text);

/// The migrators a command can name: the built-in ones, those the spec
/// declares, and those of each --migrators file, later ones winning.
engine::MigratorCatalog migrator_catalog(const engine::SuiteSpec& spec,
                                         const std::vector<std::string>& files);

/// reports/out/<UTC time>-<label>-<seed>: where a run writes unless told.
std::string default_out_dir(std::string_view label, std::uint64_t seed);

/// Seconds with two decimals, or milliseconds below one second: "0.42 s", "31 ms".
std::string human_duration(std::chrono::microseconds duration);

}  // namespace orgquake::cli
