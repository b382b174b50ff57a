#define BOOST_TEST_MODULE orgquake bench program
#include <filesystem>
#include <fstream>

#include <boost/test/unit_test.hpp>

#include "bench/baseline_comparison.hpp"
#include "bench/bench_results.hpp"
#include "tests/support/process_runner.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;
namespace fs = std::filesystem;

BOOST_AUTO_TEST_SUITE(bench_program, *boost::unit_test::label("bench") *
                                         boost::unit_test::precondition(test::services_available()))

// One real --quick run through the command line: the benchmark program
// starts its servers, measures, writes JSON that parses, and the command
// prints the table and writes bench.html. How fast it all is is the
// benchmarks' business, not this test's.
BOOST_AUTO_TEST_CASE(a_quick_run_writes_json_that_parses_and_a_report) {
  test::TemporaryDirectory out;
  const fs::path json = fs::path(out.path()) / "bench.json";
  const auto result =
      test::run_command(test::orgquake_binary(), {"bench", "--quick", "--json", json.string()}, {},
                        std::chrono::seconds(600));
  BOOST_TEST_INFO("stdout:\n" << result.out << "\nstderr:\n" << result.err);
  BOOST_TEST_REQUIRE(result.exit_code == 0);
  BOOST_TEST(result.out.find("x floor") != std::string::npos);
  BOOST_TEST(fs::exists(fs::path(out.path()) / "bench.html"));

  const auto run = bench::read_bench_json(json);
  for (const char* name : {"floor/pg_select1", "floor/redis_ping", "lookup/joined/members:1",
                           "lookup/selectin/members:16", "lookup/n_plus_one/members:64",
                           "lookup/n_plus_one_pipelined/members:16", "lookup/locked/joined",
                           "lookup/fast_path/n_plus_one", "lookup/concurrent/clients:256",
                           "migrate/one_user", "failpoint/disarmed"}) {
    const auto* r = run.find(name);
    BOOST_TEST_REQUIRE(r != nullptr, name << " is in the JSON");
    BOOST_TEST(!r->error.has_value(), name << ": " << r->error.value_or(""));
    BOOST_TEST(r->repetition_ns.size() >= 3u, name << " has repetitions");
    BOOST_TEST(r->median_ns > 0.0, name);
  }
  BOOST_TEST(*run.find("lookup/concurrent/clients:256")->counter("errors") == 0.0);
  BOOST_TEST(*run.find("lookup/n_plus_one/members:16")->counter("queries") == 51.0);
  BOOST_TEST(*run.find("lookup/n_plus_one_pipelined/members:16")->counter("round_trips") == 4.0);
  // A run compared with itself is, by definition, no regression; the same run
  // with one lookup made ten times slower is, and the comparison names it.
  BOOST_TEST(!bench::any_regression(bench::compare_runs(run, run)));
  auto slowed = run;
  for (auto& result : slowed.results) {
    if (result.name != "lookup/selectin/members:16") continue;
    result.median_ns *= 10;
    for (auto& ns : result.repetition_ns) ns *= 10;
  }
  const auto comparisons = bench::compare_runs(run, slowed);
  BOOST_TEST(bench::any_regression(comparisons));
  for (const auto& comparison : comparisons) {
    const bool slowed_one = comparison.name == "lookup/selectin/members:16";
    BOOST_TEST((comparison.verdict == bench::Comparison::Verdict::regressed) == slowed_one,
               comparison.name);
  }
}

BOOST_AUTO_TEST_CASE(a_baseline_that_is_not_benchmark_json_fails_before_measuring) {
  test::TemporaryDirectory out;
  const fs::path bogus = fs::path(out.path()) / "baseline.json";
  std::ofstream(bogus) << "{\"not\": \"benchmarks\"}";
  const auto result = test::run_orgquake({"bench", "--quick", "--compare", bogus.string(), "--json",
                                          (fs::path(out.path()) / "b.json").string()});
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(result.err.find("baseline.json") != std::string::npos, result.err);
  BOOST_TEST(!fs::exists(fs::path(out.path()) / "b.json"));
}

BOOST_AUTO_TEST_SUITE_END()
