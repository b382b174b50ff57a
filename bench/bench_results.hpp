#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace orgquake::bench {

/// One benchmark of a run, summarized over its repetitions. Times are
/// wall-clock nanoseconds per iteration, whatever unit the JSON used.
struct BenchResult {
  std::string name;                   ///< family name: "lookup/joined/members:16"
  std::vector<double> repetition_ns;  ///< real time per iteration, one per repetition
  double median_ns = 0;
  /// The repetitions' relative spread, the run's own measure of its noise:
  /// 1.4826 x median absolute deviation / median, which estimates the
  /// coefficient of variation of normal noise without letting one disturbed
  /// repetition (a compile job taking both cores) inflate it; 0 with fewer
  /// than 3 repetitions.
  double noise = 0;
  /// User counters (p50_us, p99_us, lookups_per_s, ...), median over repetitions.
  std::map<std::string, double> counters;
  /// Set when any repetition reported an error, or counted failed
  /// operations in its `errors` counter.
  std::optional<std::string> error;

  std::optional<double> counter(std::string_view key) const;
};

/// A whole run of orgquake_bench, as its Google Benchmark JSON holds it.
struct BenchRun {
  std::map<std::string, std::string> context;  ///< string-valued context entries
  /// The machine's 1, 5 and 15 minute load averages when the run started:
  /// a loaded machine slows work that needs CPU more than a bare round trip.
  std::vector<double> load_average;
  std::vector<BenchResult> results;  ///< in registration order (family_index)

  const BenchResult* find(std::string_view name) const;
};

/// The family name of a Google Benchmark run name: the suffixes the library
/// appends for settings ("/real_time", "/iterations:16", "/repeats:5",
/// "/min_time:0.050", "/threads:1", "/manual_time", "/process_time") removed,
/// so that names stay stable when the settings change.
std::string family_name(std::string_view run_name);

/// Summarizes Google Benchmark's JSON output. Medians and noise are computed
/// here from the per-repetition entries (Google Benchmark writes no
/// aggregates for a single repetition). Throws UsageError when `json` is not
/// Google Benchmark output.
BenchRun parse_bench_json(const nlohmann::json& json);

/// Reads and parses a JSON file; throws UsageError naming the file and what
/// is wrong with it.
BenchRun read_bench_json(const std::filesystem::path& path);

/// The median of `values` (the mean of the middle two for an even count); 0 if empty.
double median(std::vector<double> values);

}  // namespace orgquake::bench
