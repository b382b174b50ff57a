#define BOOST_TEST_MODULE orgquake bench results and baseline comparison
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <unistd.h>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "bench/baseline_comparison.hpp"
#include "bench/bench_results.hpp"
#include "bench/bench_table.hpp"
#include "bench/bench_targets.hpp"
#include "core/error.hpp"
#include "reports/bench_html.hpp"

using namespace orgquake;
using nlohmann::json;

namespace {

// Google Benchmark's JSON for one benchmark: one entry per repetition (times
// in us, as orgquake_bench reports I/O), plus the aggregates it adds, which
// the parser must ignore in favour of the repetitions.
void add_benchmark(json& out, const std::string& name, const std::vector<double>& times_us,
                   const std::map<std::string, double>& counters = {}) {
  const std::string run_name = name + "/real_time";
  for (std::size_t i = 0; i < times_us.size(); ++i) {
    json entry = {{"name", run_name},
                  {"run_name", run_name},
                  {"run_type", "iteration"},
                  {"repetitions", times_us.size()},
                  {"repetition_index", i},
                  {"threads", 1},
                  {"iterations", 1000},
                  {"real_time", times_us[i]},
                  {"cpu_time", times_us[i] / 10},
                  {"time_unit", "us"}};
    for (const auto& [key, value] : counters) entry[key] = value;
    out["benchmarks"].push_back(entry);
  }
  out["benchmarks"].push_back({{"name", run_name + "_median"},
                               {"run_name", run_name},
                               {"run_type", "aggregate"},
                               {"aggregate_name", "median"},
                               {"real_time", 1e9},
                               {"cpu_time", 1e9},
                               {"time_unit", "us"}});
}

// A run on a machine `slowdown` times slower than the reference, with a
// lookup `lookup_factor` times its usual cost relative to the floor.
json synthetic_run(double slowdown, double lookup_factor) {
  json out = {{"context", {{"date", "2026-11-22T03:00:00+00:00"}, {"mode", "quick"}}},
              {"benchmarks", json::array()}};
  const auto scaled = [&](std::vector<double> times, double factor) {
    for (auto& t : times) t *= slowdown * factor;
    return times;
  };
  add_benchmark(out, "floor/pg_select1", scaled({40, 41, 39, 40.5, 40}, 1));
  add_benchmark(out, "floor/redis_ping", scaled({30, 31, 30, 29, 30}, 1));
  add_benchmark(out, "lookup/joined/members:16", scaled({100, 102, 99, 101, 100}, lookup_factor),
                {{"p50_us", 99 * slowdown}, {"p99_us", 140 * slowdown}, {"queries", 1}});
  add_benchmark(out, "lookup/n_plus_one/members:16", scaled({2000, 2050, 1980, 2010, 2000}, 1),
                {{"queries", 51}});
  add_benchmark(out, "lookup/fast_path/joined", scaled({50, 51, 49, 50, 50}, 1));
  add_benchmark(out, "lookup/concurrent/clients:256", scaled({20, 21, 19, 20, 20}, 1),
                {{"lookups_per_s", 50000 / slowdown}, {"errors", 0}, {"clients", 256}});
  return out;
}

// A file holding `text`, removed at the end of the case.
struct TemporaryJsonFile {
  std::filesystem::path path;
  explicit TemporaryJsonFile(const std::string& text)
      : path(std::filesystem::temp_directory_path() /
             ("orgquake_bench_report_test_" + std::to_string(getpid()) + ".json")) {
    std::ofstream(path) << text;
  }
  ~TemporaryJsonFile() { std::filesystem::remove(path); }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(bench_results, *boost::unit_test::label("bench"))

BOOST_AUTO_TEST_CASE(family_names_drop_the_settings_google_benchmark_appends) {
  BOOST_TEST(bench::family_name("lookup/joined/members:16/real_time") ==
             "lookup/joined/members:16");
  BOOST_TEST(bench::family_name("migrate/one_user/iterations:16/repeats:5/real_time") ==
             "migrate/one_user");
  BOOST_TEST(bench::family_name("failpoint/disarmed") == "failpoint/disarmed");
}

BOOST_AUTO_TEST_CASE(medians_and_noise_come_from_the_repetitions_not_the_aggregates) {
  const auto run = bench::parse_bench_json(synthetic_run(1, 1));
  const auto* lookup = run.find("lookup/joined/members:16");
  BOOST_TEST_REQUIRE(lookup != nullptr);
  BOOST_TEST(lookup->repetition_ns.size() == 5u);
  BOOST_TEST(lookup->median_ns == 100e3);
  BOOST_TEST(lookup->noise > 0.0);
  BOOST_TEST(lookup->noise < 0.02);
  BOOST_TEST(*lookup->counter("queries") == 1.0);
  BOOST_TEST(run.context.at("mode") == "quick");
}

BOOST_AUTO_TEST_CASE(failed_operations_counted_in_errors_fail_the_benchmark) {
  json run = synthetic_run(1, 1);
  add_benchmark(run, "lookup/concurrent/clients:16", {20, 21, 20}, {{"errors", 2}});
  const auto parsed = bench::parse_bench_json(run);
  BOOST_TEST(parsed.find("lookup/concurrent/clients:16")->error.has_value());
  BOOST_TEST(!parsed.find("lookup/concurrent/clients:256")->error.has_value());
}

BOOST_AUTO_TEST_CASE(input_that_is_not_benchmark_output_is_a_usage_error) {
  BOOST_CHECK_THROW(bench::parse_bench_json(json{{"results", 1}}), UsageError);
  BOOST_CHECK_THROW(bench::read_bench_json("/nonexistent/bench.json"), UsageError);
}

BOOST_AUTO_TEST_CASE(bare_nan_written_by_google_benchmark_is_read_as_no_value) {
  // The cv aggregate of a counter that is always 0 is 0/0, written as NaN.
  TemporaryJsonFile file(
      "{\"benchmarks\": [{\"name\": \"x/real_time\", "
      "\"run_type\": \"iteration\", \"real_time\": 5, "
      "\"time_unit\": \"us\", \"errors\": NaN, "
      "\"lock_waits\": -Infinity}]}");
  const auto run = bench::read_bench_json(file.path);
  BOOST_TEST_REQUIRE(run.find("x") != nullptr);
  BOOST_TEST(run.find("x")->median_ns == 5000.0);
  BOOST_TEST(!run.find("x")->counter("errors").has_value());
}

BOOST_AUTO_TEST_CASE(an_error_in_a_repetition_marks_the_benchmark_failed) {
  json run = synthetic_run(1, 1);
  run["benchmarks"].push_back({{"name", "lookup/concurrent/clients:64/real_time"},
                               {"run_type", "iteration"},
                               {"error_occurred", true},
                               {"error_message", "3 of 512 lookups failed"},
                               {"real_time", 0},
                               {"time_unit", "us"}});
  const auto parsed = bench::parse_bench_json(run);
  const auto* failed = parsed.find("lookup/concurrent/clients:64");
  BOOST_TEST_REQUIRE(failed != nullptr);
  BOOST_TEST(failed->error.value_or("") == "3 of 512 lookups failed");
  const auto comparisons =
      bench::compare_runs(bench::parse_bench_json(synthetic_run(1, 1)), parsed);
  BOOST_TEST(bench::any_regression(comparisons));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(baseline_comparison, *boost::unit_test::label("bench"))

BOOST_AUTO_TEST_CASE(an_unchanged_run_passes) {
  const auto baseline = bench::parse_bench_json(synthetic_run(1, 1));
  const auto current = bench::parse_bench_json(synthetic_run(1, 1));
  const auto comparisons = bench::compare_runs(baseline, current);
  BOOST_TEST(!bench::any_regression(comparisons));
  for (const auto& c : comparisons) {
    BOOST_TEST((c.verdict == bench::Comparison::Verdict::unchanged), c.name);
  }
}

BOOST_AUTO_TEST_CASE(a_planted_regression_is_flagged) {
  const auto baseline = bench::parse_bench_json(synthetic_run(1, 1));
  const auto current = bench::parse_bench_json(synthetic_run(1, 2.5));  // joined lookup 2.5x slower
  const auto comparisons = bench::compare_runs(baseline, current);
  BOOST_TEST(bench::any_regression(comparisons));
  for (const auto& c : comparisons) {
    const bool planted = c.name == "lookup/joined/members:16";
    BOOST_TEST((c.verdict == (planted ? bench::Comparison::Verdict::regressed
                                      : bench::Comparison::Verdict::unchanged)),
               c.name << ": " << bench::name_of(c.verdict));
  }
  const std::string table = bench::format_table(current, &comparisons);
  BOOST_TEST(table.find("REGRESSED") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_uniformly_slower_machine_is_not_a_regression) {
  // Everything twice as slow, floor included: the ratios hold.
  const auto baseline = bench::parse_bench_json(synthetic_run(1, 1));
  const auto current = bench::parse_bench_json(synthetic_run(2, 1));
  BOOST_TEST(!bench::any_regression(bench::compare_runs(baseline, current)));
}

BOOST_AUTO_TEST_CASE(a_change_inside_the_noise_margin_passes) {
  const auto baseline = bench::parse_bench_json(synthetic_run(1, 1));
  const auto current = bench::parse_bench_json(synthetic_run(1, 1 + bench::kMinimumMargin / 2));
  BOOST_TEST(!bench::any_regression(bench::compare_runs(baseline, current)));
}

BOOST_AUTO_TEST_CASE(noisy_repetitions_widen_the_margin) {
  json noisy = synthetic_run(1, 1);
  // The lookup twice as slow, but its repetitions spread by about +-60%.
  json kept = json::array();
  for (const auto& e : noisy["benchmarks"]) {
    if (e["name"] != "lookup/joined/members:16/real_time") kept.push_back(e);
  }
  noisy["benchmarks"] = kept;
  add_benchmark(noisy, "lookup/joined/members:16", {200, 90, 310, 120, 260});
  const auto comparisons = bench::compare_runs(bench::parse_bench_json(synthetic_run(1, 1)),
                                               bench::parse_bench_json(noisy));
  for (const auto& c : comparisons) {
    if (c.name != "lookup/joined/members:16") continue;
    BOOST_TEST(c.margin > bench::kMinimumMargin);  // the noise term, not the floor, binds
    BOOST_TEST((c.verdict == bench::Comparison::Verdict::unchanged));
  }
}

BOOST_AUTO_TEST_CASE(a_figure_without_a_floor_must_triple_to_count) {
  // failpoint/* has no round trip to divide by: drift of 2.7x between runs
  // is the machine, a disarmed failpoint taking a lock is a regression.
  const auto with_failpoint = [](double ns) {
    json run = synthetic_run(1, 1);
    add_benchmark(run, "failpoint/disarmed", {ns / 1e3, ns / 1e3, ns / 1e3});
    return bench::parse_bench_json(run);
  };
  const auto verdict = [&](double ns) {
    for (const auto& c : bench::compare_runs(with_failpoint(0.5), with_failpoint(ns))) {
      if (c.name == "failpoint/disarmed") return c.verdict;
    }
    return bench::Comparison::Verdict::missing;
  };
  BOOST_TEST((verdict(1.35) == bench::Comparison::Verdict::unchanged));
  BOOST_TEST((verdict(20) == bench::Comparison::Verdict::regressed));
}

BOOST_AUTO_TEST_CASE(a_benchmark_missing_from_the_run_is_listed_not_failed) {
  json partial = synthetic_run(1, 1);
  json kept = json::array();
  for (const auto& e : partial["benchmarks"]) {
    if (e["name"] != "lookup/fast_path/joined/real_time") kept.push_back(e);
  }
  partial["benchmarks"] = kept;
  const auto comparisons = bench::compare_runs(bench::parse_bench_json(synthetic_run(1, 1)),
                                               bench::parse_bench_json(partial));
  BOOST_TEST(!bench::any_regression(comparisons));
  BOOST_TEST((comparisons.back().verdict == bench::Comparison::Verdict::missing));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(targets_and_report, *boost::unit_test::label("bench"))

BOOST_AUTO_TEST_CASE(targets_are_judged_from_the_run) {
  const auto checks = bench::check_targets(bench::parse_bench_json(synthetic_run(1, 1)));
  BOOST_TEST_REQUIRE(checks.size() == 3u);
  BOOST_TEST(checks[0].met.value_or(false));  // n_plus_one 2000 us against joined 100 us: 20x
  BOOST_TEST(checks[1].met.value_or(false));  // fast path 50 us against a 40 us floor: 1.25x
  BOOST_TEST(checks[2].met.value_or(false));  // clients:256 without errors

  json slow_fast_path = synthetic_run(1, 1);
  for (auto& e : slow_fast_path["benchmarks"]) {
    if (e["name"] == "lookup/fast_path/joined/real_time") e["real_time"] = 80;
  }
  BOOST_TEST(!bench::check_targets(bench::parse_bench_json(slow_fast_path))[1].met.value_or(true));
}

BOOST_AUTO_TEST_CASE(the_html_report_is_self_contained) {
  const auto html = reports::bench_html(bench::parse_bench_json(synthetic_run(1, 1)));
  BOOST_TEST(html.find("<svg") != std::string::npos);
  BOOST_TEST(html.find("<script") == std::string::npos);
  // The only URL is the SVG namespace, which names rather than fetches.
  std::string rest = html;
  const std::string svg_namespace = "http://www.w3.org/2000/svg";
  for (auto at = rest.find(svg_namespace); at != std::string::npos; at = rest.find(svg_namespace))
    rest.erase(at, svg_namespace.size());
  BOOST_TEST(rest.find("http") == std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()
