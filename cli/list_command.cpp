// orgquake list: everything a spec or a command line can name (scenarios and
// their options, common options, invariants, failpoints, suites, migrators),
// in a stable order, so that a typo can be checked against it and a diff of
// two listings shows what a change added.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "engine/option_reader.hpp"
#include "engine/options.hpp"
#include "engine/scenario.hpp"
#include "engine/suite_spec.hpp"
#include "invariants/invariant.hpp"
#include "migrator/bugs/bug_catalog.hpp"
#include "migrator/failpoints/registry.hpp"
#include "migrator/migrator.hpp"

namespace orgquake::cli {
namespace {

using Row = std::vector<std::string>;

// The widest cell of each column but the last (a description, which runs free).
std::vector<std::size_t> column_widths(const std::vector<Row>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i + 1 < row.size(); ++i) {
      if (widths.size() <= i) widths.resize(i + 1, 0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  return widths;
}

void print_rows(const std::vector<Row>& rows, std::string_view indent,
                const std::vector<std::size_t>& widths) {
  for (const auto& row : rows) {
    std::string line(indent);
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (i + 1 < row.size()) {
        line += fmt::format("{:<{}}  ", row[i], widths[i]);
      } else {
        line += row[i];
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    fmt::print("{}\n", line);
  }
}

void print_rows(const std::vector<Row>& rows, std::string_view indent) {
  print_rows(rows, indent, column_widths(rows));
}

// Bounds are doubles; an integer option's read better as integers.
std::string bound_text(const engine::OptionSpec& option, double bound) {
  if (option.default_value.is_number_integer()) {
    return fmt::format("{}", static_cast<std::int64_t>(bound));
  }
  return fmt::format("{}", bound);
}

// What values the option takes, e.g. "1..32" or "joined|selectin|n_plus_one".
std::string accepted_text(const engine::OptionSpec& option) {
  if (!option.choices.empty()) {
    std::string out;
    for (const auto& choice : option.choices) out += (out.empty() ? "" : "|") + choice;
    return out;
  }
  if (option.min || option.max) {
    return fmt::format("{}..{}", option.min ? bound_text(option, *option.min) : "",
                       option.max ? bound_text(option, *option.max) : "");
  }
  return "";
}

// One row per option, written as it would be in a spec (`name = default`), so
// that a line can be copied into [options] or [scenarios.NAME].
std::vector<Row> option_rows(const std::vector<engine::OptionSpec>& options) {
  std::vector<Row> rows;
  for (const auto& option : options) {
    const std::string accepted = accepted_text(option);
    // The accepted values go last: a list of choices can be long, and as a
    // column it would push every description far to the right.
    rows.push_back({option.name, "= " + option.default_value.dump(),
                    option.description + (accepted.empty() ? "" : " [" + accepted + "]")});
  }
  return rows;
}

void print_heading(std::string_view heading) {
  fmt::print("{}:\n", heading);
}

void print_none() {
  fmt::print("  (none registered)\n");
}

void list_scenarios() {
  print_heading(
      "scenarios (each takes the trial options, and the options below: its own and the "
      "common ones it reads)");
  const auto& scenarios = engine::all_scenarios();
  if (scenarios.empty()) return print_none();
  // One alignment for all scenarios, and one for all their options, so that
  // the listing reads as two tables interleaved.
  std::vector<Row> names, options;
  for (const auto& scenario : scenarios) {
    names.push_back({std::string(scenario->name()), std::string(scenario->description())});
    for (auto& row : option_rows(scenario->options())) options.push_back(std::move(row));
  }
  const auto name_widths = column_widths(names);
  const auto option_widths = column_widths(options);
  for (std::size_t i = 0; i < scenarios.size(); ++i) {
    print_rows({names[i]}, "  ", name_widths);
    print_rows(option_rows(scenarios[i]->options()), "      ", option_widths);
  }
}

void list_common_options() {
  print_heading("trial options (every scenario; set in [options] or [scenarios.NAME])");
  print_rows(option_rows(engine::trial_options()), "  ");
}

void list_invariants() {
  print_heading("invariants");
  std::vector<Row> rows;
  for (const auto& invariant : invariants::all_invariants()) {
    rows.push_back({std::string(invariant->name()), std::string(invariant->description())});
  }
  if (rows.empty()) return print_none();
  print_rows(rows, "  ");
}

void list_failpoints() {
  print_heading("failpoints (arm with ORGQUAKE_FAILPOINTS=name=spec;...)");
  std::vector<Row> rows;
  for (const auto& failpoint : failpoints::describe()) {
    std::string description(failpoint.description);
    if (!failpoint.configuration.empty()) {
      description += fmt::format(" [armed: {}]", failpoint.configuration);
    }
    rows.push_back({std::string(failpoint.name), description});
  }
  if (rows.empty()) return print_none();
  print_rows(rows, "  ");
}

// A built-in suite that fails to load (a scenario it names is missing, say)
// is shown with its error, so that list still shows everything else.
void list_suites() {
  print_heading("suites (orgquake run --suite NAME)");
  std::vector<Row> rows;
  for (const auto& name : engine::suite_names()) {
    try {
      const auto suite = engine::load_suite(name);
      rows.push_back({name, fmt::format("{} scenarios", suite.scenarios.size()),
                      fmt::format("users {}", suite.users), fmt::format("trials {}", suite.trials),
                      suite.description});
    } catch (const std::exception& e) {
      rows.push_back({name, "", "", "", fmt::format("cannot load: {}", e.what())});
    }
  }
  if (rows.empty()) return print_none();
  print_rows(rows, "  ");
}

// Each migrator is asked what it declares (its workers start in describe
// mode), so that the listing is what a run would see.
void list_migrators(const std::vector<std::string>& files) {
  print_heading("migrators (orgquake run --migrator NAME [--migrators FILE])");
  const auto catalog = migrator_catalog(engine::SuiteSpec{}, files);
  const auto self = std::filesystem::read_symlink("/proc/self/exe");
  for (const auto& declaration : catalog.all()) {
    if (migrator::bugs::find_bug(declaration.name) != nullptr) continue;  // listed below
    const bool is_default = declaration.name == "reference";
    std::string where = declaration.built_in() ? "built in, C++" : declaration.declared_in;
    fmt::print("  {}{}  ({})  {}\n", declaration.name, is_default ? " (default)" : "", where,
               declaration.description);
    if (!declaration.built_in()) {
      std::string command;
      for (const auto& word : declaration.command) command += (command.empty() ? "" : " ") + word;
      fmt::print("    command: {}  (in {})\n", command, declaration.working_directory.string());
    }
    try {
      const auto described =
          engine::describe_migrator(declaration, self, std::chrono::seconds(20)).description;
      std::string operations;
      for (const auto& kind : described.operations)
        operations += (operations.empty() ? "" : ", ") + kind;
      fmt::print("    language {}; operations: {}; {} failpoints{}\n", described.language,
                 operations, described.failpoints.size(),
                 declaration.built_in() ? ", those listed above" : ":");
      if (declaration.built_in()) continue;
      std::vector<Row> rows;
      for (const auto& failpoint : described.failpoints) {
        rows.push_back({failpoint.name, failpoint.description});
      }
      print_rows(rows, "      ");
    } catch (const std::exception& e) {
      fmt::print("    cannot describe it: {}\n", e.what());
    }
  }
}

// The catalog of known bugs: each the reference with one step done wrong.
void list_bug_catalog() {
  print_heading(
      "bug catalog (orgquake run --migrator bug:NAME; orgquake mutation-score runs them all)");
  for (const auto& bug : migrator::bugs::bug_catalog()) {
    fmt::print("  {}{}  {}\n", migrator::bugs::bug_prefix, bug.name, bug.summary);
    fmt::print("    source: {}\n", bug.source);
    if (!bug.equivalent_because.empty()) {
      fmt::print("    equivalent mutant: {}\n", bug.equivalent_because);
    }
  }
}

int list(const std::vector<std::string>& migrator_files) {
  list_scenarios();
  fmt::print("\n");
  list_common_options();
  fmt::print("\n");
  list_invariants();
  fmt::print("\n");
  list_failpoints();
  fmt::print("\n");
  list_suites();
  fmt::print("\n");
  list_migrators(migrator_files);
  list_bug_catalog();
  return static_cast<int>(ExitCode::valid);
}

}  // namespace

void add_list_command(CLI::App& app, Action& action) {
  auto* command = app.add_subcommand(
      "list", "List scenarios, options, invariants, failpoints, suites and migrators");
  auto migrator_files = std::make_shared<std::vector<std::string>>();
  command->add_option("--migrators", *migrator_files,
                      "Also list the migrators declared in this TOML file (repeatable)");
  command->callback(
      [&action, migrator_files] { action = [migrator_files] { return list(*migrator_files); }; });
}

}  // namespace orgquake::cli
