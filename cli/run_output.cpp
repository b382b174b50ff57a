#include "cli/run_output.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "reports/run_reports.hpp"

namespace orgquake::cli {

int finish_run(const results::RunResult& run, const std::filesystem::path& out_dir) {
  const auto files = reports::write_run_reports(run, out_dir);
  int counts[3] = {0, 0, 0};
  for (const auto& trial : run.trials) ++counts[static_cast<int>(trial.verdict)];
  fmt::print("verdict {}: {} trials in {:.1f} s ({} valid, {} invalid, {} unknown)\n",
             results::name_of(run.verdict), run.trials.size(), run.duration_s,
             counts[static_cast<int>(results::Validity::valid)],
             counts[static_cast<int>(results::Validity::invalid)],
             counts[static_cast<int>(results::Validity::unknown)]);
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
