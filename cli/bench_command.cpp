// orgquake bench [--quick] [--json FILE] [--compare BASELINE]: runs
// orgquake_bench, prints every result as a ratio to the round-trip floor,
// writes bench.html beside the JSON, and with --compare exits 1 when a
// ratio regressed beyond its noise margin (bench/baseline_comparison.hpp
// states the rule).
#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <optional>
#include <signal.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

#include <fmt/format.h>

#include "bench/baseline_comparison.hpp"
#include "bench/bench_results.hpp"
#include "bench/bench_table.hpp"
#include "bench/bench_targets.hpp"
#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "reports/bench_html.hpp"
#include "services/child_process.hpp"

namespace orgquake::cli {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct BenchOptions {
  bool quick = false;
  std::optional<std::string> json;
  std::optional<std::string> compare;
};

// The benchmark program is built beside orgquake (build/bin/).
fs::path bench_program() {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  const fs::path program = self.parent_path() / "orgquake_bench";
  if (!fs::exists(program)) {
    throw EnvironmentError(fmt::format(
        "orgquake_bench not found next to orgquake ({}); build it: cmake --build {} --target "
        "orgquake_bench",
        program.string(), self.parent_path().parent_path().string()));
  }
  return program;
}

fs::path default_json_path() {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  return fs::path("reports/out") / fmt::format("bench-{}", stamp) / "bench.json";
}

// The last lines of the benchmark's log, for a failure message.
std::string log_tail(const fs::path& log, std::size_t lines) {
  std::ifstream in(log);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string out;
  for (std::size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) {
    out += "  " + all[i] + "\n";
  }
  return out;
}

// Runs orgquake_bench to completion. On Ctrl-C it gets SIGTERM, skips the
// benchmarks still to come and stops the servers it started.
void run_bench_program(const fs::path& program, const BenchOptions& options, const fs::path& json,
                       const fs::path& log) {
  services::ChildSpec spec;
  spec.program = program;
  if (options.quick) spec.args.push_back("--quick");
  spec.args.push_back("--benchmark_out=" + fs::absolute(json).string());
  spec.args.push_back("--benchmark_out_format=json");
  spec.log_file = fs::absolute(log);
  spec.working_directory = fs::current_path();
  fs::remove(log);
  auto child = services::ChildProcess::spawn(spec);
  try {
    while (child.running()) {
      throw_if_interrupted();
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  } catch (const Interrupted&) {
    child.stop(SIGTERM, std::chrono::seconds(30));
    throw;
  }
  const auto status = child.wait_status();
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    throw EnvironmentError(fmt::format("orgquake_bench {}; the end of its log ({}):\n{}",
                                       child.describe_exit(), log.string(), log_tail(log, 15)));
  }
}

int bench(const BenchOptions& options) {
  const fs::path program = bench_program();
  // A bad baseline should fail before a minute of measuring, not after.
  std::optional<bench::BenchRun> baseline;
  if (options.compare) baseline = bench::read_bench_json(*options.compare);

  const fs::path json = options.json ? fs::path(*options.json) : default_json_path();
  if (json.has_parent_path()) fs::create_directories(json.parent_path());
  const fs::path log = fs::path(json).replace_extension(".log");
  const fs::path html = json.parent_path() / "bench.html";

  fmt::print("orgquake bench: running {}{} (log: {})\n", program.string(),
             options.quick ? " --quick" : "", log.string());
  std::fflush(stdout);
  const auto start = Clock::now();
  run_bench_program(program, options, json, log);
  const auto took = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);

  const auto run = bench::read_bench_json(json);
  std::optional<std::vector<bench::Comparison>> comparisons;
  if (baseline) comparisons = bench::compare_runs(*baseline, run);
  const auto* compared = comparisons ? &*comparisons : nullptr;

  fmt::print("\n{}\n", bench::format_table(run, compared));
  fmt::print("targets:\n");
  for (const auto& check : bench::check_targets(run)) {
    fmt::print("  [{}] {}: {}\n",
               !check.met   ? "not measured"
               : *check.met ? "met"
                            : "NOT MET",
               check.target, check.measured);
  }
  reports::write_bench_html(html, run, compared);
  fmt::print("\nresults: {}\nreport:  {}\nran in {}", json.string(), html.string(),
             human_duration(took));
  if (!run.load_average.empty()) {
    fmt::print(", load average {:.2f} on {} cores at the start", run.load_average.front(),
               std::thread::hardware_concurrency());
  }
  fmt::print("\n");

  bool failed = false;
  for (const auto& r : run.results) failed = failed || r.error.has_value();
  if (comparisons) {
    const bool regressed = bench::any_regression(*comparisons);
    fmt::print("compared with {}: {}\n", *options.compare,
               regressed ? "REGRESSED (see the verdict column)" : "no regression beyond noise");
    failed = failed || regressed;
  } else if (failed) {
    fmt::print("some benchmarks reported errors (see the table)\n");
  }
  return failed ? static_cast<int>(ExitCode::invalid) : static_cast<int>(ExitCode::valid);
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto options = std::make_shared<BenchOptions>();
  auto* command = app.add_subcommand(
      "bench", "Benchmark lookups (loading strategies, lock, concurrency) against the floor");
  command->add_flag("--quick", options->quick,
                    "Fewer, shorter repetitions: finishes within a minute");
  command->add_option("--json", options->json,
                      "Where to write Google Benchmark's JSON (default "
                      "reports/out/bench-<time>/bench.json); bench.html goes beside it");
  command
      ->add_option("--compare", options->compare,
                   "A stored run (e.g. ci/baselines/lookup.json): exit 1 if a ratio to the "
                   "floor regressed beyond the noise margin")
      ->check(CLI::ExistingFile);
  command->callback([options, &action] { action = [options] { return bench(*options); }; });
}

}  // namespace orgquake::cli
