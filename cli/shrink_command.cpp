// orgquake shrink DIR [--trial N]: reduces a failing trial of a finished run
// to the smallest story that still breaks the same invariant, writes the
// spec file that replays it (DIR/shrink-trial-N/spec.toml) and the run files
// of its confirming replays, and tells the story (shrink/shrinker.hpp).
#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "reports/run_reports.hpp"
#include "shrink/shrinker.hpp"

namespace orgquake::cli {
namespace {

struct ShrinkOptions {
  std::string dir;
  std::optional<int> trial;
  std::optional<std::string> invariant;
  std::optional<int> runs;
  int budget_s = 900;
  int confirm_runs = 10;
  std::optional<std::string> out;
  services::ServicesOptions services;
};

int run_shrink(const ShrinkOptions& options) {
  shrink::ShrinkRequest request;
  request.run_dir = options.dir;
  request.trial = options.trial;
  request.invariant = options.invariant;
  request.runs = options.runs;
  request.budget = std::chrono::seconds(options.budget_s);
  request.confirm_runs = options.confirm_runs;
  if (options.out) request.out_dir = *options.out;
  request.services = options.services;
  const auto result = shrink::shrink(request);
  const auto files = reports::write_run_reports(result.confirm_run, result.confirm_run.out_dir);

  fmt::print("shrunk trial {} ({}) of {}: {} -> {} in {:.0f} s, {} candidates\n",
             result.target.trial_index, result.target.scenario, options.dir, result.before.text(),
             result.after.text(), result.elapsed_s, result.candidates);
  for (const auto& change : result.option_changes) fmt::print("  option {}\n", change);
  if (!result.interleaving_finding.empty()) fmt::print("{}\n", result.interleaving_finding);
  if (!result.interleaving.empty()) fmt::print("  interleaving = {}\n", result.interleaving);
  fmt::print("{}\n", result.one_minimal
                         ? "1-minimal: removing any one remaining fault or operation makes it pass"
                         : "not minimal: the budget ran out first (--budget SECONDS); this is the "
                           "smallest failing trial found so far");
  fmt::print("the story:\n");
  for (const auto& line : result.story) fmt::print("  {}\n", line);
  fmt::print("{} invalid in {} of {} replays of the shrunk trial\n", result.target.invariant,
             result.confirm_failures, result.confirm_runs);
  fmt::print("spec    {}\nreport  {}\nreplay: orgquake run --spec {}{}\n",
             result.spec_path.string(), files.report_html.string(), result.spec_path.string(),
             shrink::replay_flags(result.target));
  if (result.confirm_failures == 0 && result.confirm_runs > 0) {
    fmt::print(
        "the shrunk trial did not fail in any confirming replay: the failure is flaky at this "
        "size; shrink again with more replays per candidate (--runs K)\n");
    return 1;
  }
  return 0;
}

}  // namespace

void add_shrink_command(CLI::App& app, Action& action) {
  auto options = std::make_shared<ShrinkOptions>();
  auto* cmd = app.add_subcommand(
      "shrink", "Reduce a failing trial to the smallest story that still breaks its invariant");
  cmd->add_option("dir", options->dir, "A run's --out directory (holds results.json)")->required();
  cmd->add_option("--trial", options->trial, "Shrink this trial (default: the first invalid one)")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--invariant", options->invariant,
                  "Keep this invariant invalid (default: the trial's first invalid one)");
  cmd->add_option("--runs", options->runs,
                  "Replays per candidate; it still fails if one of them does (default: from how "
                  "often the trial fails in 3 baseline replays)")
      ->check(CLI::Range(1, 100));
  cmd->add_option("--budget", options->budget_s,
                  "Seconds to spend reducing; the smallest failing trial so far is kept "
                  "(default 900)")
      ->check(CLI::Range(1, 86400));
  cmd->add_option("--confirm-runs", options->confirm_runs,
                  "Replays of the result that measure how often it fails (default 10)")
      ->check(CLI::Range(0, 1000));
  cmd->add_option("--out", options->out,
                  "Where the spec and the run files go (default DIR/shrink-trial-N)");
  cmd->add_option("--pg-url", options->services.pg_url,
                  "Use this PostgreSQL instead of starting one (or ORGQUAKE_PG_URL)");
  cmd->add_option("--redis-url", options->services.redis_url,
                  "Use this Redis instead of starting one (or ORGQUAKE_REDIS_URL)");
  cmd->callback([options, &action] { action = [options] { return run_shrink(*options); }; });
}

}  // namespace orgquake::cli
