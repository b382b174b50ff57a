#include "cli/run_output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "migrator/bugs/bug_catalog.hpp"
#include "reports/run_reports.hpp"
#include "results/known_bugs.hpp"

namespace orgquake::cli {

namespace {

// Which known classes the findings fit, so that a team running its own
// migrator reads "this is the catalog's wait_for_lock_forever" rather than
// only the rule that broke.
void print_known_bug_matches(const results::RunResult& run) {
  std::vector<results::KnownBugSignature> catalog;
  for (const auto& bug : migrator::bugs::bug_catalog()) catalog.push_back({bug.name, bug.symptoms});
  const auto matches = results::match_known_bugs(run, catalog);
  if (matches.empty()) return;
  fmt::print("findings that fit known bug classes (docs/bug-catalog.md):\n");
  for (const auto& match : matches) {
    fmt::print("  {:<32} {:>3} trials  {}\n      first: {}\n", match.name, match.trials,
               fmt::join(match.symptoms_seen, ", "), match.first_repro);
  }
}

}  // namespace

int finish_run(const results::RunResult& run, const std::filesystem::path& out_dir,
               const std::optional<reports::ReportFiles>& written) {
  const auto files = written ? *written : reports::write_run_reports(run, out_dir);
  int counts[3] = {0, 0, 0};
  for (const auto& trial : run.trials) ++counts[static_cast<int>(trial.verdict)];
  fmt::print("verdict {}: {} trials in {:.1f} s ({} valid, {} invalid, {} unknown)\n",
             results::name_of(run.verdict), run.trials.size(), run.duration_s,
             counts[static_cast<int>(results::Validity::valid)],
             counts[static_cast<int>(results::Validity::invalid)],
             counts[static_cast<int>(results::Validity::unknown)]);
  print_known_bug_matches(run);
  fmt::print("report  {}\nresults {}\n", files.report_html.string(), files.results_json.string());
  switch (run.verdict) {
    case results::Validity::valid:
      return static_cast<int>(ExitCode::valid);
    case results::Validity::invalid:
      return static_cast<int>(ExitCode::invalid);
    case results::Validity::unknown:
      return static_cast<int>(ExitCode::harness_error);
  }
  return static_cast<int>(ExitCode::harness_error);
}

}  // namespace orgquake::cli
