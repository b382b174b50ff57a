#define BOOST_TEST_MODULE orgquake shrink
#include <filesystem>
#include <fstream>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/process_runner.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json read_json(const fs::path& path) {
  std::ifstream in(path);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
  return json::parse(in);
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

const std::vector<std::string> environment_of(const test::TemporaryDirectory& runtime) {
  return {"ORGQUAKE_RUNTIME_DIR=" + runtime.path()};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input)

BOOST_AUTO_TEST_CASE(a_directory_without_results_is_one_line_and_exit_2) {
  test::TemporaryDirectory runtime, dir;
  const auto result = test::run_orgquake({"shrink", dir.path()}, environment_of(runtime));
  BOOST_TEST_INFO("stderr: " << result.err);
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(contains(result.err, "no results.json to shrink from"));
  BOOST_TEST(!fs::exists(fs::path(dir.path()) / "shrink-trial-0"));
}

BOOST_AUTO_TEST_CASE(a_run_without_an_invalid_trial_has_nothing_to_shrink) {
  test::TemporaryDirectory runtime, dir;
  std::ofstream(fs::path(dir.path()) / "results.json")
      << R"({"seed": 1, "trials": [{"index": 0, "scenario": "stolen_lock", "seed": 5,
            "verdict": "valid", "invariants": []}]})";
  const auto result = test::run_orgquake({"shrink", dir.path()}, environment_of(runtime));
  BOOST_TEST_INFO("stderr: " << result.err);
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(contains(result.err, "no trial of the run was invalid"));
  const auto named =
      test::run_orgquake({"shrink", dir.path(), "--trial", "0"}, environment_of(runtime));
  BOOST_TEST(named.exit_code == 2);
  BOOST_TEST(contains(named.err, "was valid, not invalid"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(shrinking, *boost::unit_test::precondition(test::services_available()))

// The stolen-lock story of a lock released by plain DEL: a stale holder
// resumes and deletes the lock of the holder inside. Shrinking drops the
// third request and the second holder's pause, which the story does not
// need, and what is left replays from the spec it writes.
BOOST_AUTO_TEST_CASE(a_failing_trial_shrinks_to_a_spec_that_replays_it) {
  test::TemporaryDirectory runtime, out;
  const fs::path run_dir = fs::path(out.path()) / "run";
  const auto run = test::run_orgquake(
      {"run", "--suite", "ci", "--scenario", "stolen_lock", "--trials", "1", "--migrator",
       "bug:release_without_owner_check", "--out", run_dir.string()},
      environment_of(runtime));
  BOOST_TEST_INFO("run stdout: " << run.out << "\nstderr: " << run.err);
  BOOST_REQUIRE(run.exit_code == 1);

  const auto shrunk = test::run_command(test::orgquake_binary(),
                                        {"shrink", run_dir.string(), "--confirm-runs", "3"},
                                        environment_of(runtime), std::chrono::seconds(600));
  BOOST_TEST_INFO("shrink stdout: " << shrunk.out << "\nstderr: " << shrunk.err);
  BOOST_REQUIRE(shrunk.exit_code == 0);
  BOOST_TEST(contains(shrunk.out, "breaks lock_mutual_exclusion in "));
  BOOST_TEST(contains(shrunk.out, "candidates tried, now"));
  BOOST_TEST(contains(shrunk.out, "1-minimal"));
  BOOST_TEST(contains(shrunk.out, "[foreign_release]"));
  BOOST_TEST(contains(shrunk.out, "-> 1 fault, 2 operations, 2 workers, 2 clients"));
  // The search for an interleaving ran and said what it found (the
  // scenario orders this story itself, so usually that none is needed).
  BOOST_TEST((contains(shrunk.out, "\nno interleaving: ") ||
              contains(shrunk.out, "\nordering matters: ")));

  // The trial keeps its index in the suite (stolen_lock is not its first scenario).
  const int index = read_json(run_dir / "results.json").at("trials")[0].at("index").get<int>();
  const fs::path shrink_dir = run_dir / ("shrink-trial-" + std::to_string(index));
  const std::string spec = read_text(shrink_dir / "spec.toml");
  BOOST_TEST_INFO("spec: " << spec);
  BOOST_TEST(contains(spec, "[scenarios.stolen_lock.replay]"));
  BOOST_TEST(contains(spec, "operations = [0, 1]"));
  BOOST_TEST(contains(spec, "migrator = \"bug:release_without_owner_check\""));
  const auto confirmed = read_json(shrink_dir / "results.json");
  BOOST_TEST(confirmed.at("trials").size() == 3u);
  BOOST_TEST(confirmed.at("story").at("lines").size() > 3u);
  BOOST_TEST(contains(read_text(shrink_dir / "report.html"),
                      "Shrunk from trial " + std::to_string(index)));

  // The spec on its own, as a user runs it: invalid, by the same invariant.
  const fs::path replay_dir = fs::path(out.path()) / "replay";
  const auto replay = test::run_orgquake(
      {"run", "--spec", (shrink_dir / "spec.toml").string(), "--out", replay_dir.string()},
      environment_of(runtime));
  BOOST_TEST_INFO("replay stdout: " << replay.out);
  BOOST_TEST(replay.exit_code == 1);
  const auto replayed = read_json(replay_dir / "results.json");
  BOOST_REQUIRE(replayed.at("trials").size() == 1u);
  bool broke = false;
  for (const auto& invariant : replayed.at("trials")[0].at("invariants")) {
    broke = broke || (invariant.at("name") == "lock_mutual_exclusion" &&
                      invariant.at("verdict") == "invalid");
  }
  BOOST_TEST(broke);
  const auto& plan = replayed.at("trials")[0].at("fault_plan");
  BOOST_REQUIRE(plan.size() >= 2u);  // and the interleaving, when one was named
  BOOST_TEST(!plan[0].contains("left_out"));
  BOOST_TEST(plan[1].value("left_out", false));

  // A budget that runs out still writes the smallest failing trial so far,
  // and says it is not minimal.
  const auto hurried =
      test::run_command(test::orgquake_binary(),
                        {"shrink", run_dir.string(), "--budget", "1", "--confirm-runs", "1",
                         "--out", (fs::path(out.path()) / "hurried").string()},
                        environment_of(runtime), std::chrono::seconds(300));
  BOOST_TEST_INFO("hurried stdout: " << hurried.out << "\nstderr: " << hurried.err);
  BOOST_TEST(hurried.exit_code == 0);
  BOOST_TEST(contains(hurried.out, "not minimal: the budget ran out"));
  BOOST_TEST(fs::exists(fs::path(out.path()) / "hurried" / "spec.toml"));
}

// A trial whose failure does not come back on replay is reported with its
// replay rate, and nothing is written.
BOOST_AUTO_TEST_CASE(a_trial_that_passes_on_replay_is_exit_2_with_its_rate) {
  test::TemporaryDirectory runtime, out;
  const fs::path run_dir = fs::path(out.path()) / "run";
  const auto run = test::run_orgquake({"run", "--suite", "ci", "--scenario", "stolen_lock",
                                       "--trials", "1", "--out", run_dir.string()},
                                      environment_of(runtime));
  BOOST_REQUIRE(run.exit_code == 0);
  // Tell it the reference broke an invariant in that trial: it did not.
  json results = read_json(run_dir / "results.json");
  results["trials"][0]["verdict"] = "invalid";
  results["trials"][0]["invariants"][0]["verdict"] = "invalid";
  const std::string broken = results["trials"][0]["invariants"][0]["name"];
  std::ofstream(run_dir / "results.json") << results.dump();
  const auto shrunk = test::run_command(test::orgquake_binary(), {"shrink", run_dir.string()},
                                        environment_of(runtime), std::chrono::seconds(300));
  BOOST_TEST_INFO("stdout: " << shrunk.out << "\nstderr: " << shrunk.err);
  BOOST_TEST(shrunk.exit_code == 2);
  BOOST_TEST(contains(shrunk.err,
                      "does not fail on replay: " + broken + " was invalid in 0 of 3 replays"));
  const int index = results["trials"][0]["index"].get<int>();
  BOOST_TEST(!fs::exists(run_dir / ("shrink-trial-" + std::to_string(index))),
             "a shrink that stopped left its directory");
}

BOOST_AUTO_TEST_SUITE_END()
