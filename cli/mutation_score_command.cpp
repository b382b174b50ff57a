// orgquake mutation-score: runs a suite against the reference migrator (the
// control) and against every entry of the bug catalog, and shows which bugs
// the suite catches, by which invariants and scenarios, with the command
// that replays the first catch. Exit 0 only if the control is valid and
// every bug not argued equivalent is caught.
#include <chrono>
#include <ctime>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "engine/controller_run.hpp"
#include "migrator/bugs/bug_catalog.hpp"
#include "reports/mutation_reports.hpp"
#include "reports/run_reports.hpp"

namespace orgquake::cli {
namespace {

namespace fs = std::filesystem;

struct MutationOptions {
  std::string suite = "ci";
  std::optional<std::string> spec_file;
  std::optional<std::string> seed;
  std::vector<std::string> bugs;  ///< empty: the whole catalog
  std::optional<std::string> out;
  services::ServicesOptions services;
};

std::vector<const migrator::bugs::CatalogBug*> chosen_bugs(const std::vector<std::string>& names) {
  std::vector<const migrator::bugs::CatalogBug*> chosen;
  if (names.empty()) {
    for (const auto& bug : migrator::bugs::bug_catalog()) chosen.push_back(&bug);
    return chosen;
  }
  for (const auto& name : names) {
    const auto* bug = migrator::bugs::find_bug(name);
    if (bug == nullptr) {
      std::string known;
      for (const auto& b : migrator::bugs::bug_catalog())
        known += (known.empty() ? "" : ", ") + b.name;
      throw UsageError(
          fmt::format("--bugs: no catalog bug is named '{}'; the catalog has: {}", name, known));
    }
    chosen.push_back(bug);
  }
  return chosen;
}

// One run of the suite; a harness failure becomes the outcome's error, so
// that one broken run does not hide the others' scores.
results::BugOutcome run_one(engine::RunRequest request, const results::BugDescription& bug,
                            const engine::MigratorCatalog& catalog) {
  request.migrator = catalog.find(bug.migrator);
  try {
    const auto run = engine::run_suite(request);
    reports::write_run_reports(run, request.out_dir);
    return results::outcome_of(bug, run, request.out_dir.string());
  } catch (const Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    results::BugOutcome failed;
    failed.bug = bug;
    failed.run_verdict = results::Validity::unknown;
    failed.error = e.what();
    return failed;
  }
}

void print_outcome(const results::BugOutcome& o, bool control = false) {
  const char* status = !o.error.empty() ? "ERROR"
                       : control        ? results::name_of(o.run_verdict)
                       : o.caught()     ? "caught"
                       : o.equivalent() ? "equivalent"
                                        : "ESCAPED";
  std::string by;
  for (const auto& [name, n] : o.invalid_by_invariant) {
    by += fmt::format("{}{} ({})", by.empty() ? "" : ", ", name, n);
  }
  fmt::print("  {:<40} {:<10} {:>3}/{:<3} {:6.1f} s  {}\n", o.bug.migrator, status,
             o.invalid_trials, o.trials, o.duration_s, !o.error.empty() ? o.error : by);
  std::fflush(stdout);
}

int mutation_score(const MutationOptions& options) {
  engine::RunRequest request;
  request.spec = options.spec_file ? engine::load_spec_file(*options.spec_file)
                                   : engine::load_suite(options.suite);
  request.seed = options.seed ? parse_seed(*options.seed) : request.spec.seed.value_or(1);
  request.services = options.services;
  request.progress = false;
  const auto bugs = chosen_bugs(options.bugs);
  const fs::path out =
      options.out.value_or(default_out_dir("mutation-" + request.spec.name, request.seed));
  const auto catalog = migrator_catalog(request.spec, {});

  const auto started = std::chrono::steady_clock::now();
  results::MutationScore score;
  score.suite = request.spec.name;
  score.seed = request.seed;
  score.git_sha = engine::git_sha();
  fmt::print("mutation score of suite {} (seed {}): the reference, then {} catalog bugs\n",
             score.suite, score.seed, bugs.size());

  request.out_dir = out / "reference";
  score.control = run_one(request, {"reference", "the control: must be valid", "", ""}, catalog);
  print_outcome(score.control, true);
  for (const auto* bug : bugs) {
    const std::string name = std::string(migrator::bugs::bug_prefix) + bug->name;
    request.out_dir = out / ("bug_" + bug->name);
    score.bugs.push_back(
        run_one(request, {name, bug->summary, bug->source, bug->equivalent_because}, catalog));
    print_outcome(score.bugs.back());
  }
  score.duration_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const std::time_t now = std::time(nullptr);
  char stamp[32];
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", &tm);
  score.started_at = stamp;

  const auto files = reports::write_mutation_reports(score, out);
  fmt::print("mutation score {} of {} in {:.1f} s; control {}\n", score.caught(),
             score.must_catch(), score.duration_s, results::name_of(score.control.run_verdict));
  for (const auto& o : score.bugs) {
    if (!o.caught() && !o.equivalent())
      fmt::print("  escaped: {}  ({})\n", o.bug.migrator, o.bug.summary);
  }
  if (score.exit_code() == 2) {
    fmt::print("the control (reference) is not valid: the score means nothing until it is\n");
  }
  fmt::print("report  {}\nresults {}\n", files.html.string(), files.json.string());
  return score.exit_code();
}

}  // namespace

void add_mutation_score_command(CLI::App& app, Action& action) {
  auto options = std::make_shared<MutationOptions>();
  auto* command = app.add_subcommand(
      "mutation-score",
      "Run a suite against the reference and every catalog bug; show which bugs it catches");
  auto* suite = command->add_option("--suite", options->suite, "Built-in suite (default ci)");
  command->add_option("--spec", options->spec_file, "A suite spec file (TOML)")->excludes(suite);
  command->add_option("--seed", options->seed, "Seed of every run (default: the suite's, else 1)");
  command->add_option("--bugs", options->bugs, "Only these catalog bugs (names, repeatable)")
      ->delimiter(',');
  command->add_option(
      "--out", options->out,
      "Directory for mutation_score.json, mutation_score.html and one run "
      "directory per migrator (default reports/out/<time>-mutation-<suite>-<seed>)");
  command->add_option("--pg-url", options->services.pg_url,
                      "Use this PostgreSQL instead of starting one (or ORGQUAKE_PG_URL)");
  command->add_option("--redis-url", options->services.redis_url,
                      "Use this Redis instead of starting one (or ORGQUAKE_REDIS_URL)");
  command->callback(
      [options, &action] { action = [options] { return mutation_score(*options); }; });
}

}  // namespace orgquake::cli
