#define BOOST_TEST_MODULE orgquake command line
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <sys/mount.h>
#include <sys/wait.h>

#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "tests/support/process_runner.hpp"
#include "tests/support/shared_services.hpp"

using namespace orgquake;
namespace fs = std::filesystem;

namespace {

// Each command gets a runtime directory of its own, so that what it leaves
// behind is seen even while other test programs run beside it.
struct PrivateRuntime {
  test::TemporaryDirectory dir;
  std::vector<std::string> environment() const { return {"ORGQUAKE_RUNTIME_DIR=" + dir.path()}; }
  std::size_t leftovers() const {
    std::size_t n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(dir.path(), ec)) {
      n += e.path().filename().string().rfind("run-", 0) == 0 ? 1 : 0;
    }
    return n;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_input)

// An argument list that prints itself in a failure message.
struct Args {
  std::vector<std::string> list;
  Args(std::initializer_list<std::string> l) : list(l) {}
  friend std::ostream& operator<<(std::ostream& out, const Args& a) {
    for (const auto& s : a.list) out << s << ' ';
    return out;
  }
};

BOOST_DATA_TEST_CASE(is_one_line_and_exit_code_2,
                     boost::unit_test::data::make(std::vector<Args>{
                         {"frobnicate"},
                         {"run", "--no-such-flag"},
                         {"run", "--seed", "banana"},
                         {"run", "--seed", "-3"},
                         {"run", "--trials", "0"},
                         {"run", "--users", "abc"},
                         {"run", "--pg-url", "mysql://root@localhost/db"},
                         {"run", "--pg-url", "postgresql://localhost:99999/db"},
                         {"run", "--redis-url", "redis://:0"},
                         {"run", "--suite", "nope"},
                         {"run", "--suite", "ci", "--spec", "ci.toml"},
                         {"run", "--spec", "/nonexistent/suite.toml"},
                         {"run", "--scenario", "nope"},
                         {"run", "--suite", "smoke", "--scenario", "redis_outage"},
                         {"run", "--migrator", "nope"},
                         {"run", "--migrator", "bug:nope"},
                         {"run", "--jobs", "0"},
                         {"run", "--shard", "3/2"},
                         {"run", "--shard", "0/2"},
                         {"run", "--shard", "half"},
                         {"run", "--suite", "smoke", "--shard", "3/4"},
                         {"merge"},
                         {"merge", "/nonexistent/run"},
                         {"mutation-score", "--bugs", "nope"},
                         {"mutation-score", "--suite", "nope"},
                         {"repro", "/nonexistent/run"},
                         {"repro"},
                         {"shrink"},
                         {"shrink", "/nonexistent/run"},
                         {"shrink", "/tmp", "--runs", "0"},
                         {"shrink", "/tmp", "--budget", "0"},
                         {"list", "--bogus"},
                         {"services", "up", "--pg-url", "postgresql://h/db", "--pg-port", "5000"},
                         {"services", "up", "--pg-port", "70000"},
                         {"services", "down"},
                     }),
                     args) {
  PrivateRuntime runtime;
  const auto result = test::run_orgquake(args.list, runtime.environment());
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(result.out.empty());
  BOOST_TEST(result.err.rfind("orgquake: ", 0) == 0u);
  BOOST_TEST(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  BOOST_TEST(runtime.leftovers() == 0u);  // nothing was started, or it was cleaned up
}

BOOST_DATA_TEST_CASE(a_missing_server_binary_is_named,
                     boost::unit_test::data::make({"ORGQUAKE_PG_BINDIR=/nonexistent",
                                                   "ORGQUAKE_REDIS_SERVER=/nonexistent/redis"}),
                     variable) {
  PrivateRuntime runtime;
  auto environment = runtime.environment();
  environment.push_back(variable);
  const auto result = test::run_orgquake({"run", "--users", "5"}, environment);
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  BOOST_TEST(result.err.find("/nonexistent") != std::string::npos);
  BOOST_TEST(runtime.leftovers() == 0u);
}

BOOST_AUTO_TEST_CASE(help_and_version_exit_0) {
  BOOST_TEST(test::run_orgquake({"--help"}).exit_code == 0);
  const auto version = test::run_orgquake({"--version"});
  BOOST_TEST(version.exit_code == 0);
  BOOST_TEST(!version.out.empty());
}

BOOST_AUTO_TEST_SUITE_END()

namespace {

// A 12 MiB tmpfs: too small for a cluster copy. Needs root (mount).
struct TinyFilesystem {
  test::TemporaryDirectory dir;
  bool mounted = false;
  TinyFilesystem() {
    mounted = mount("orgquake-test", dir.path().c_str(), "tmpfs", 0, "size=12m,mode=0755") == 0;
  }
  ~TinyFilesystem() {
    if (mounted) umount2(dir.path().c_str(), MNT_DETACH);
  }
};

struct can_mount_tmpfs {
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const {
    TinyFilesystem probe;
    boost::test_tools::assertion_result result(probe.mounted);
    if (!probe.mounted) result.message() << "skipped: mounting a tmpfs needs root";
    return result;
  }
};

}  // namespace

BOOST_DATA_TEST_CASE(a_bad_jobs_default_from_the_environment_is_one_line,
                     boost::unit_test::data::make({"ORGQUAKE_JOBS=banana", "ORGQUAKE_JOBS=0"}),
                     variable) {
  PrivateRuntime runtime;
  auto environment = runtime.environment();
  environment.push_back(variable);
  const auto result = test::run_orgquake({"run", "--suite", "smoke"}, environment);
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  BOOST_TEST(result.err.find("ORGQUAKE_JOBS") != std::string::npos);
  BOOST_TEST(runtime.leftovers() == 0u);
}

// Serially and in lanes: a lane that refuses is the run's one line, not a
// run of unknown trials that says nothing of the disk.
BOOST_TEST_DECORATOR(*boost::unit_test::precondition(test::services_available()) *
                     boost::unit_test::precondition(can_mount_tmpfs()))
BOOST_DATA_TEST_CASE(a_full_disk_is_one_line_and_leaves_nothing,
                     boost::unit_test::data::make({"1", "2"}), jobs) {
  TinyFilesystem disk;
  BOOST_REQUIRE(disk.mounted);
  const auto result = test::run_orgquake(
      {"run", "--users", "5"},
      {"ORGQUAKE_RUNTIME_DIR=" + disk.dir.path(), std::string("ORGQUAKE_JOBS=") + jobs});
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  BOOST_TEST(result.err.find("No space left on device") != std::string::npos);
  BOOST_TEST(result.err.find("internal error") == std::string::npos);
  BOOST_TEST(fs::is_empty(disk.dir.path()));
}

BOOST_AUTO_TEST_SUITE(run_command, *boost::unit_test::precondition(test::services_available()))

namespace {

nlohmann::json read_json(const fs::path& path) {
  std::ifstream in(path);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << path);
  return nlohmann::json::parse(in);
}

const nlohmann::json& trial_of(const nlohmann::json& results, const std::string& scenario) {
  for (const auto& trial : results.at("trials")) {
    if (trial.at("scenario") == scenario) return trial;
  }
  BOOST_FAIL("no trial of " << scenario);
  throw std::logic_error("unreachable");
}

}  // namespace

// The smoke suite end to end: the race really happens, the verdict is valid,
// the four files are written, nothing is left running, and the same seed
// plans the same faults and orders the same failpoint decisions.
BOOST_AUTO_TEST_CASE(smoke_suite_is_valid_reproducible_and_cleans_up) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto first_dir = fs::path(out.path()) / "first";
  const auto result =
      test::run_orgquake({"run", "--suite", "smoke", "--seed", "7", "--out", first_dir.string()},
                         runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 0);
  BOOST_TEST(result.out.find("verdict valid") != std::string::npos);
  BOOST_TEST(runtime.leftovers() == 0u);
  for (const char* file : {"results.json", "junit.xml", "history.jsonl", "report.html"}) {
    BOOST_TEST(fs::is_regular_file(first_dir / file), file);
  }
  const auto first = read_json(first_dir / "results.json");
  BOOST_TEST(first.at("seed").get<std::uint64_t>() == 7u);
  BOOST_TEST(first.at("verdict") == "valid");
  const auto& race = trial_of(first, "concurrent_duplicate_lookups");
  BOOST_TEST(race.at("stats").at("max_concurrent_lookups").get<int>() >= 64);
  BOOST_TEST(race.at("stats").at("lock_waits").get<int>() > 0);
  const auto& expiry = trial_of(first, "lock_expiry_recovery");
  BOOST_TEST(expiry.at("stats").at("crashes").get<int>() > 0);
  BOOST_TEST(!expiry.at("failpoint_order").empty());

  const auto second_dir = fs::path(out.path()) / "second";
  const auto again =
      test::run_orgquake({"run", "--suite", "smoke", "--seed", "7", "--out", second_dir.string()},
                         runtime.environment());
  BOOST_TEST(again.exit_code == 0);
  const auto second = read_json(second_dir / "results.json");
  BOOST_REQUIRE(second.at("trials").size() == first.at("trials").size());
  for (std::size_t i = 0; i < first.at("trials").size(); ++i) {
    BOOST_TEST(first["trials"][i]["seed"] == second["trials"][i]["seed"]);
    BOOST_TEST(first["trials"][i]["fault_plan"] == second["trials"][i]["fault_plan"]);
    BOOST_TEST(first["trials"][i]["failpoint_order"] == second["trials"][i]["failpoint_order"]);
  }

  // repro replays a chosen trial and says whether its plan and order matched.
  const auto replay =
      test::run_orgquake({"repro", first_dir.string(), "--trial", "1"}, runtime.environment());
  BOOST_TEST_INFO("stdout: " << replay.out << "\nstderr: " << replay.err);
  BOOST_TEST(replay.exit_code == 0);
  BOOST_TEST(replay.out.find("fault plan: same") != std::string::npos);
  BOOST_TEST(replay.out.find("failpoint order: same") != std::string::npos);
  BOOST_TEST(runtime.leftovers() == 0u);
}

namespace {

// What makes two runs of one seed the same run: which trials, with which
// seeds, plans, choices and verdicts. Durations and timing-dependent counts
// (lock waits) are not part of it.
void require_same_trials(const nlohmann::json& expected, const nlohmann::json& actual,
                         const std::string& what) {
  BOOST_TEST_CONTEXT(what) {
    BOOST_TEST(actual.at("seed") == expected.at("seed"));
    BOOST_TEST(actual.at("suite") == expected.at("suite"));
    BOOST_TEST(actual.at("verdict") == expected.at("verdict"));
    BOOST_REQUIRE(actual.at("trials").size() == expected.at("trials").size());
    for (std::size_t i = 0; i < expected.at("trials").size(); ++i) {
      const auto& want = expected["trials"][i];
      const auto& got = actual["trials"][i];
      BOOST_TEST_CONTEXT("trial " << i) {
        for (const char* field :
             {"index", "scenario", "seed", "verdict", "fault_plan", "choices", "options"}) {
          BOOST_TEST(got.at(field) == want.at(field), field);
        }
        BOOST_REQUIRE(got.at("invariants").size() == want.at("invariants").size());
        for (std::size_t k = 0; k < want.at("invariants").size(); ++k) {
          BOOST_TEST(got["invariants"][k]["name"] == want["invariants"][k]["name"]);
          BOOST_TEST(got["invariants"][k]["verdict"] == want["invariants"][k]["verdict"]);
        }
      }
    }
  }
}

// The trial indexes history.jsonl has events of, each with how many.
std::map<int, std::size_t> history_trials(const fs::path& file) {
  std::ifstream in(file);
  BOOST_REQUIRE_MESSAGE(in, "cannot read " << file);
  std::map<int, std::size_t> events;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) ++events[nlohmann::json::parse(line).at("trial").get<int>()];
  }
  return events;
}

}  // namespace

// The same seed gives the same trials whether they run one after another,
// in two lanes at once (--jobs 2), or as two shards on two machines joined by
// merge; files list trials in index order, and the merged directory is a run
// directory that repro replays.
BOOST_AUTO_TEST_CASE(lanes_and_merged_shards_give_the_trials_of_a_serial_run) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const fs::path root = out.path();
  const auto run = [&](const std::string& name, std::vector<std::string> extra) {
    std::vector<std::string> args{
        "run", "--suite", "smoke", "--trials", "2", "--seed", "5", "--out", (root / name).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    const auto result = test::run_orgquake(args, runtime.environment());
    BOOST_TEST_INFO(name << " stdout: " << result.out << "\nstderr: " << result.err);
    BOOST_TEST(result.exit_code == 0);
    return result;
  };
  run("serial", {"--jobs", "1"});
  const auto lanes = run("lanes", {"--jobs", "2"});
  BOOST_TEST(lanes.out.find("in 2 lanes") != std::string::npos);
  run("shard-1", {"--shard", "1/2", "--jobs", "1"});
  run("shard-2", {"--shard", "2/2", "--jobs", "2"});  // a shard may run in lanes too

  const auto serial = read_json(root / "serial" / "results.json");
  BOOST_REQUIRE(serial.at("trials").size() == 4u);
  require_same_trials(serial, read_json(root / "lanes" / "results.json"), "--jobs 2");
  BOOST_TEST(!fs::exists(root / "lanes" / ".lanes"));  // the lanes' hand-over is cleaned up
  const auto shard = read_json(root / "shard-1" / "results.json");
  BOOST_TEST(shard.at("shard").at("index") == 1);
  BOOST_TEST(shard.at("trials").size() == 2u);

  // A shard alone, or a run that is not a shard, is not a whole run.
  const auto missing =
      test::run_orgquake({"merge", (root / "shard-1").string(), "--out", (root / "bad").string()},
                         runtime.environment());
  BOOST_TEST(missing.exit_code == 2);
  BOOST_TEST(missing.err.find("shard 2/2 is missing") != std::string::npos);
  const auto not_a_shard =
      test::run_orgquake({"merge", (root / "serial").string(), (root / "shard-1").string(), "--out",
                          (root / "bad").string()},
                         runtime.environment());
  BOOST_TEST(not_a_shard.exit_code == 2);
  BOOST_TEST(std::count(not_a_shard.err.begin(), not_a_shard.err.end(), '\n') == 1);
  BOOST_TEST(!fs::exists(root / "bad"));

  const auto merged_dir = root / "merged";
  const auto merge = test::run_orgquake({"merge", (root / "shard-2").string(),
                                         (root / "shard-1").string(), "--out", merged_dir.string()},
                                        runtime.environment());
  BOOST_TEST_INFO("merge stdout: " << merge.out << "\nstderr: " << merge.err);
  BOOST_TEST(merge.exit_code == 0);
  const auto merged = read_json(merged_dir / "results.json");
  require_same_trials(serial, merged, "merged shards");
  BOOST_TEST(!merged.contains("shard"));
  // Every event of every shard, and nothing else.
  auto shard_events = history_trials(root / "shard-1" / "history.jsonl");
  shard_events.merge(history_trials(root / "shard-2" / "history.jsonl"));
  const auto merged_events = history_trials(merged_dir / "history.jsonl");
  BOOST_TEST(merged_events.size() == 4u);
  BOOST_TEST((merged_events == shard_events));
  for (const auto& trial : merged.at("trials")) {
    BOOST_TEST(trial.at("repro").get<std::string>().find(merged_dir.string()) != std::string::npos);
  }
  std::ifstream junit(merged_dir / "junit.xml");
  const std::string junit_text((std::istreambuf_iterator<char>(junit)), {});
  BOOST_TEST(junit_text.find("tests=\"4\"") != std::string::npos);
  BOOST_TEST(fs::is_regular_file(merged_dir / "report.html"));
  BOOST_TEST(fs::is_regular_file(merged_dir / "logs" / "trial-3-worker-0.log"));

  const auto replay =
      test::run_orgquake({"repro", merged_dir.string(), "--trial", "3"}, runtime.environment());
  BOOST_TEST_INFO("repro stdout: " << replay.out << "\nstderr: " << replay.err);
  BOOST_TEST(replay.exit_code == 0);
  BOOST_TEST(replay.out.find("fault plan: same") != std::string::npos);
  BOOST_TEST(runtime.leftovers() == 0u);
}

// Ctrl-C during a parallel run stops every lane, and each lane stops what it
// started: no server, no run directory, no hand-over files are left.
BOOST_AUTO_TEST_CASE(ctrl_c_stops_every_lane_and_what_it_started) {
  using namespace std::chrono_literals;
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  test::BackgroundCommand run(
      "/usr/bin/env",
      {"ORGQUAKE_RUNTIME_DIR=" + runtime.dir.path(), test::orgquake_binary(), "run", "--suite",
       "smoke", "--trials", "2", "--jobs", "2", "--seed", "3", "--out", out.path()});
  run.read_until("orgquake run:", 60s);
  // Both lanes are up once each has made the run directory of its services.
  BOOST_REQUIRE(test::eventually([&] { return runtime.leftovers() >= 2; }, 60s));
  const auto lanes = test::children_of(run.pid());
  BOOST_TEST(lanes.size() >= 2u);
  run.kill_now(SIGINT);
  const int status = run.wait();
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 2);
  for (pid_t lane : lanes) BOOST_TEST(!test::process_exists(lane));
  BOOST_TEST(runtime.leftovers() == 0u);
  BOOST_TEST(!fs::exists(fs::path(out.path()) / ".lanes"));
}

// A lane that dies (SIGKILL here, as the OOM killer would) leaves its
// unfinished trials unknown, naming its exit and its log; the other lane's
// trials are judged, the run's files are written, and nothing the dead lane
// started outlives the run: its children died with it, its run directory is
// removed by the parent.
BOOST_AUTO_TEST_CASE(a_lane_that_dies_leaves_its_trials_unknown_and_the_run_goes_on) {
  using namespace std::chrono_literals;
  // A killed postgres cannot remove shared memory segments it made under
  // /dev/shm; the embedded servers keep theirs in the run directory.
  const auto shm_segments = [] {
    std::set<std::string> names;
    std::error_code ignored;
    for (const auto& entry : fs::directory_iterator("/dev/shm", ignored)) {
      const auto name = entry.path().filename().string();
      if (name.rfind("PostgreSQL.", 0) == 0) names.insert(name);
    }
    return names;
  };
  const auto segments_before = shm_segments();
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  test::BackgroundCommand run(
      "/usr/bin/env",
      {"ORGQUAKE_RUNTIME_DIR=" + runtime.dir.path(), test::orgquake_binary(), "run", "--suite",
       "smoke", "--trials", "2", "--jobs", "2", "--seed", "5", "--out", out.path()});
  run.read_until("orgquake run:", 60s);
  BOOST_REQUIRE(test::eventually([&] { return runtime.leftovers() >= 2; }, 60s));
  // Lane 1 by its command line, which names its hand-over directory.
  const auto command_line = [](pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::replace(text.begin(), text.end(), '\0', ' ');
    return text;
  };
  pid_t lane_one = 0;
  for (pid_t lane : test::children_of(run.pid())) {
    if (command_line(lane).find("/.lanes/1 ") != std::string::npos) lane_one = lane;
  }
  BOOST_REQUIRE(lane_one != 0);
  // Killed while it runs a trial it claimed from the queue the lanes share:
  // its servers (postgres, redis-server) are up then, and the trial is its.
  const fs::path lanes = fs::path(out.path()) / ".lanes";
  const auto running_a_claimed_trial = [&] {
    for (int index = 0; index < 4; ++index) {
      std::ifstream claim(lanes / "claims" / ("trial-" + std::to_string(index)));
      int lane = 0;
      if (claim >> lane && lane == 1 &&
          !fs::exists(lanes / "1" / ("trial-" + std::to_string(index) + ".json"))) {
        return true;
      }
    }
    return false;
  };
  BOOST_REQUIRE(test::eventually(running_a_claimed_trial, 60s));
  const auto started_by_lane = test::children_of(lane_one);
  BOOST_REQUIRE(started_by_lane.size() >= 2u);
  BOOST_REQUIRE(::kill(lane_one, SIGKILL) == 0);

  const int status = run.wait();
  BOOST_TEST(WIFEXITED(status));
  BOOST_TEST(WEXITSTATUS(status) == 2);  // unknown: not every trial was judged
  const auto results = read_json(fs::path(out.path()) / "results.json");
  BOOST_REQUIRE(results.at("trials").size() == 4u);
  int lost = 0, judged = 0, index = 0;
  for (const auto& trial : results.at("trials")) {
    BOOST_TEST_INFO("trial " << trial.dump());
    BOOST_TEST(trial.at("index") == index++);  // in index order, the lost ones too
    const auto error = trial.value("error", std::string());
    if (error.find("lane 1 killed by signal 9 before this trial finished") != std::string::npos) {
      BOOST_TEST(trial.at("verdict") == "unknown");
      BOOST_TEST(error.find("lane-1.log") != std::string::npos);
      ++lost;
    } else {
      BOOST_TEST(trial.at("verdict") == "valid");
      ++judged;
    }
  }
  BOOST_TEST(lost == 1);    // the trial it was running
  BOOST_TEST(judged == 3);  // lane 2 took the rest of the queue
  for (pid_t pid : started_by_lane) {
    BOOST_TEST(test::eventually([&] { return !test::process_exists(pid); }, 10s), pid);
  }
  BOOST_TEST(runtime.leftovers() == 0u);
  BOOST_TEST(!fs::exists(fs::path(out.path()) / ".lanes"));
  for (const auto& name : shm_segments()) {
    BOOST_TEST(segments_before.contains(name), "/dev/shm/" << name << " was left behind");
  }
}

// Any registered scenario runs by name: from the first built-in suite that
// lists it, so with the options it is meant to have.
BOOST_AUTO_TEST_CASE(a_scenario_outside_smoke_runs_from_the_suite_that_lists_it) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto result = test::run_orgquake({"run", "--scenario", "crash_at_every_failpoint",
                                          "--trials", "1", "--seed", "2", "--out", out.path()},
                                         runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 0);
  const auto results = read_json(fs::path(out.path()) / "results.json");
  BOOST_TEST(results.at("suite") == "ci");
  BOOST_REQUIRE(results.at("trials").size() == 1u);
  BOOST_TEST(results.at("trials").at(0).at("scenario") == "crash_at_every_failpoint");
  BOOST_TEST(results.at("trials").at(0).at("stats").at("crashes").get<int>() > 0);
  BOOST_TEST(results.at("session_pool") == true);  // the embedded server's default
  BOOST_TEST(runtime.leftovers() == 0u);
}

// Without the session pool each client opens its own session, as against an
// external server: the race still catches the naive migrator, the run says
// how it reached its database, and a replay reaches it the same way.
BOOST_AUTO_TEST_CASE(without_the_session_pool_the_race_is_caught_and_repro_does_as_the_run_did) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto result = test::run_orgquake(
      {"run", "--suite", "smoke", "--seed", "7", "--migrator", "seed_naive", "--scenario",
       "concurrent_duplicate_lookups", "--no-session-pool", "--out", out.path()},
      runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 1);
  const auto results = read_json(fs::path(out.path()) / "results.json");
  BOOST_TEST(results.at("session_pool") == false);
  BOOST_TEST(results.at("verdict") == "invalid");

  const auto replay =
      test::run_orgquake({"repro", out.path(), "--trial", "0"}, runtime.environment());
  BOOST_TEST_INFO("repro stdout: " << replay.out << "\nstderr: " << replay.err);
  BOOST_TEST(replay.exit_code == 1);
  const auto replayed = read_json(fs::path(out.path()) / "repro-trial-0" / "results.json");
  BOOST_TEST(replayed.at("session_pool") == false);
  BOOST_TEST(replayed.at("verdict") == "invalid");
  BOOST_TEST(runtime.leftovers() == 0u);
}

// A race that never raced proves nothing: one client in one worker never has
// two lookups of a user in flight, so the trial is unknown and says why,
// although every invariant holds of what did happen.
BOOST_AUTO_TEST_CASE(a_scenario_that_did_not_exercise_its_claim_is_unknown) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto spec = fs::path(out.path()) / "no_race.toml";
  std::ofstream(spec) << R"(users = 20
trials = 1
[options]
workers = 1
clients = 1
[scenarios.concurrent_duplicate_lookups]
users = 3
rounds = 1
)";
  const auto run_dir = fs::path(out.path()) / "run";
  const auto result =
      test::run_orgquake({"run", "--spec", spec.string(), "--seed", "4", "--out", run_dir.string()},
                         runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 2);
  const auto trial = read_json(run_dir / "results.json").at("trials").at(0);
  BOOST_TEST(trial.at("verdict") == "unknown");
  BOOST_TEST(trial.value("error", "")
                 .find("concurrent_duplicate_lookups did not exercise its "
                       "claim: no two lookups of one user were ever in "
                       "flight at once") != std::string::npos);
  BOOST_TEST(runtime.leftovers() == 0u);
}

// An option that no scenario of the trial reads would be ignored in silence;
// it is refused in one line that says who does read it, before anything starts.
BOOST_AUTO_TEST_CASE(an_option_no_scenario_reads_is_one_line_naming_who_reads_it) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto spec = fs::path(out.path()) / "unread.toml";
  std::ofstream(spec) << "trials = 1\n[scenarios.lock_holder_pause]\nclients = 4\n";
  const auto run_dir = fs::path(out.path()) / "run";
  const auto result = test::run_orgquake(
      {"run", "--spec", spec.string(), "--out", run_dir.string()}, runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 2);
  BOOST_TEST(std::count(result.err.begin(), result.err.end(), '\n') == 1);
  BOOST_TEST(result.err.find("unknown option \"clients\"") != std::string::npos);
  BOOST_TEST(result.err.find("clients is an option of scenarios") != std::string::npos);
  BOOST_TEST(result.out.find("services ready") == std::string::npos);
  BOOST_TEST(!fs::exists(run_dir));
  BOOST_TEST(runtime.leftovers() == 0u);
}

// The gate catches the naive migrator: duplicate lookups race past its
// unlocked path, and the run says so with evidence, exit code 1 and the
// command that replays each failing trial.
BOOST_AUTO_TEST_CASE(the_naive_migrator_is_invalid_with_evidence_and_a_replay) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto result =
      test::run_orgquake({"run", "--suite", "smoke", "--seed", "7", "--migrator", "seed_naive",
                          "--scenario", "concurrent_duplicate_lookups", "--out", out.path()},
                         runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 1);
  BOOST_TEST(result.out.find("verdict invalid") != std::string::npos);
  BOOST_TEST(result.out.find("replay: orgquake repro " + out.path() + " --trial 0") !=
             std::string::npos);
  const auto results = read_json(fs::path(out.path()) / "results.json");
  BOOST_TEST(results.at("verdict") == "invalid");
  const auto& race = trial_of(results, "concurrent_duplicate_lookups");
  std::vector<std::string> broken;
  for (const auto& invariant : race.at("invariants")) {
    if (invariant.at("verdict") != "invalid") continue;
    broken.push_back(invariant.at("name").get<std::string>());
    BOOST_TEST(!invariant.at("evidence").empty(), invariant.at("name"));
  }
  BOOST_TEST_INFO("invalid invariants: " << nlohmann::json(broken).dump());
  BOOST_TEST((std::find(broken.begin(), broken.end(), "no_double_billing") != broken.end()));
  BOOST_TEST(runtime.leftovers() == 0u);
}

// The rollout suite (feature flag, shadow orgs, backfill restore,
// expand/contract) is valid for the reference migrator, every trial of it
// exercised; and the rollback by restore, without the migrator's
// compensation, is invalid with evidence naming what Stripe and LiteLLM kept,
// its restore event saying nobody compensated.
BOOST_AUTO_TEST_CASE(the_rollout_suite_is_valid_and_a_restore_without_compensation_is_not) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto run_dir = fs::path(out.path()) / "rollout";
  const auto result =
      test::run_orgquake({"run", "--suite", "rollout", "--trials", "1", "--out", run_dir.string()},
                         runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 0);
  const auto results = read_json(run_dir / "results.json");
  std::set<std::string> scenarios;
  for (const auto& trial : results.at("trials")) {
    scenarios.insert(trial.at("scenario").get<std::string>());
    BOOST_TEST(trial.at("verdict") == "valid", trial.at("scenario"));
  }
  BOOST_TEST((scenarios == std::set<std::string>{"backfill_restore", "expand_contract",
                                                 "feature_flag_rollout", "shadow_orgs"}));

  const auto spec = fs::path(out.path()) / "no_compensation.toml";
  std::ofstream(spec) << R"(users = 60
trials = 1
[scenarios.backfill_restore]
backfill_users = 6
compensate = false
)";
  const auto bare_dir = fs::path(out.path()) / "bare";
  const auto bare = test::run_orgquake(
      {"run", "--spec", spec.string(), "--seed", "3", "--out", bare_dir.string()},
      runtime.environment());
  BOOST_TEST_INFO("stdout: " << bare.out << "\nstderr: " << bare.err);
  BOOST_TEST(bare.exit_code == 1);
  const auto trial = read_json(bare_dir / "results.json").at("trials").at(0);
  BOOST_TEST(trial.at("verdict") == "invalid");
  std::set<std::string> symptoms;
  for (const auto& invariant : trial.at("invariants")) {
    if (invariant.at("name") != "cross_system_reconciliation") continue;
    for (const auto& evidence : invariant.at("evidence")) {
      symptoms.insert(evidence.value("symptom", ""));
    }
  }
  BOOST_TEST(symptoms.contains("stripe_names_unknown_org"));
  BOOST_TEST(symptoms.contains("team_without_org"));
  bool said = false;
  std::ifstream history(bare_dir / "history.jsonl");
  for (std::string line; std::getline(history, line);) {
    const auto event = nlohmann::json::parse(line);
    if (event.value("type", "") == "rollout" && event.value("kind", "") == "restore") {
      said = event.at("value").value("compensation", "").starts_with("none");
    }
  }
  BOOST_TEST(said);
  BOOST_TEST(runtime.leftovers() == 0u);
}

// The bug catalog is listed with its sources, and mutation-score runs a
// suite against the control and the chosen bugs: a bug whose only effect
// is on the end state is caught by the invariant of that state, with the
// repro command of its first catching trial, and the files are written.
BOOST_AUTO_TEST_CASE(the_bug_catalog_is_listed_and_scored) {
  PrivateRuntime runtime;
  const auto listing = test::run_orgquake({"list"}, runtime.environment());
  BOOST_TEST_INFO("stdout: " << listing.out << "\nstderr: " << listing.err);
  BOOST_TEST(listing.exit_code == 0);
  for (const char* name : {"bug:release_without_owner_check", "bug:credits_ignore_spend",
                           "bug:verification_without_owner", "equivalent mutant:"}) {
    BOOST_TEST(listing.out.find(name) != std::string::npos, name);
  }

  test::TemporaryDirectory out;
  const auto result =
      test::run_orgquake({"mutation-score", "--suite", "smoke", "--seed", "7", "--bugs",
                          "credits_ignore_spend,legacy_settings_cleared", "--out", out.path()},
                         runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 0);
  BOOST_TEST(result.out.find("mutation score 2 of 2") != std::string::npos);
  const auto score = read_json(fs::path(out.path()) / "mutation_score.json");
  BOOST_TEST(score.at("control").at("run_verdict") == "valid");
  BOOST_TEST(score.at("bugs").size() == 2u);
  const auto& spend = score.at("bugs").at(0);
  BOOST_TEST(spend.at("migrator") == "bug:credits_ignore_spend");
  BOOST_TEST(spend.at("caught") == true);
  BOOST_TEST(spend.at("invalid_by_invariant").contains("litellm_migrated_once"));
  BOOST_TEST(spend.at("first_repro").get<std::string>().find("orgquake repro ") == 0u);
  const auto& cleared = score.at("bugs").at(1);
  BOOST_TEST(cleared.at("invalid_by_invariant").contains("legacy_read_path"));
  BOOST_TEST(fs::exists(fs::path(out.path()) / "mutation_score.html"));
  BOOST_TEST(fs::exists(fs::path(out.path()) / "bug_credits_ignore_spend" / "report.html"));
  BOOST_TEST(runtime.leftovers() == 0u);
}

// A named interleaving from the spec is forced across worker processes.
// Left alone, the live lookup takes its lock well before the backfill's
// first migration has journaled (that needs a LiteLLM round trip first);
// `migrate.after_journal -> lookup.after_lock_acquire` makes the lookup wait.
BOOST_AUTO_TEST_CASE(an_interleaving_from_the_spec_is_forced_across_workers) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto spec = fs::path(out.path()) / "interleaving.toml";
  std::ofstream(spec) << R"(description = "a forced interleaving"
users = 60
trials = 1
[options]
workers = 2
clients = 2
interleaving = "migrate.after_journal -> lookup.after_lock_acquire"
[scenarios.backfill_with_live_lookups]
backfill_users = 24
migrated_share = 0.0
)";
  const auto run_dir = fs::path(out.path()) / "run";
  const auto result =
      test::run_orgquake({"run", "--spec", spec.string(), "--seed", "5", "--out", run_dir.string()},
                         runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 0);
  const auto trial = read_json(run_dir / "results.json").at("trials").at(0);
  const auto& plan = trial.at("fault_plan");
  BOOST_TEST((std::any_of(plan.begin(), plan.end(), [](const nlohmann::json& fault) {
    return fault.value("kind", "") == "interleaving";
  })));
  // The decisions, in the order the controller made them.
  std::vector<std::string> order;
  for (const auto& decision : trial.at("failpoint_order")) {
    order.push_back(decision.get<std::string>());
  }
  BOOST_TEST_INFO("failpoint order: " << nlohmann::json(order).dump());
  auto first = [&](std::string_view failpoint) {
    return std::find_if(order.begin(), order.end(), [&](const std::string& decision) {
      return decision.find(failpoint) != std::string::npos;
    });
  };
  BOOST_REQUIRE(first("lookup.after_lock_acquire") != order.end());
  BOOST_REQUIRE(first("migrate.after_journal") != order.end());
  BOOST_TEST((first("migrate.after_journal") < first("lookup.after_lock_acquire")));

  // What the interleaving decides replays; which racing client got there
  // first is not recorded, so a replay says "same".
  const auto replay =
      test::run_orgquake({"repro", run_dir.string(), "--trial", "0"}, runtime.environment());
  BOOST_TEST_INFO("repro stdout: " << replay.out << "\nstderr: " << replay.err);
  BOOST_TEST(replay.exit_code == 0);
  BOOST_TEST(replay.out.find("failpoint order: same") != std::string::npos);
  BOOST_TEST(runtime.leftovers() == 0u);
}

// Faults stacked beside a scenario in a spec fire on the fault clock
// whatever the scenario does: in the plan as written, in the history as
// injected and healed, in the run phase; one timed past the end of the
// lookups still plays out; repro finds the same plan.
BOOST_AUTO_TEST_CASE(faults_stacked_in_a_spec_fire_as_planned_and_replay) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto spec = fs::path(out.path()) / "stacked.toml";
  std::ofstream(spec) << R"(description = "faults stacked beside a scenario"
users = 40
trials = 1
[options]
workers = 2
clients = 2
[scenarios.concurrent_duplicate_lookups]
users = 4
rounds = 2
[[scenarios.concurrent_duplicate_lookups.faults]]
kind = "backend_kill"
at_ms = 5
[[scenarios.concurrent_duplicate_lookups.faults]]
kind = "redis_outage"
at_ms = 1500
lasting_ms = 200
[[scenarios.concurrent_duplicate_lookups.faults]]
kind = "stripe_search_lag"
lag_ms = 1
at_operation = 3
)";
  const auto run_dir = fs::path(out.path()) / "run";
  const auto result =
      test::run_orgquake({"run", "--spec", spec.string(), "--seed", "3", "--out", run_dir.string()},
                         runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 0);
  const auto trial = read_json(run_dir / "results.json").at("trials").at(0);
  const auto& plan = trial.at("fault_plan");
  BOOST_REQUIRE(plan.size() == 3u);
  BOOST_TEST(plan[0] == nlohmann::json({{"kind", "backend_kill"}, {"timing", {{"at_ms", 5}}}}));
  BOOST_TEST(plan[1] == nlohmann::json({{"kind", "redis_outage"},
                                        {"timing", {{"at_ms", 1500}, {"lasting_ms", 200}}}}));
  BOOST_TEST(plan[2] == nlohmann::json({{"kind", "stripe_search_lag"},
                                        {"lag_ms", 1},
                                        {"timing", {{"at_operation", 3}}}}));
  BOOST_TEST(trial.at("choices").at(0).at("kind") == "duplicate_lookups");

  std::vector<std::string> faults;  // kind@phase, in time order
  std::int64_t stopped_at = -1, started_at = -1, op3_at = -1, lag_at = -1;
  std::ifstream history(run_dir / "history.jsonl");
  for (std::string line; std::getline(history, line);) {
    const auto event = nlohmann::json::parse(line);
    if (event.at("type") == "invoke" && event.value("op", -1) == 3) {
      op3_at = event.at("time_ns").get<std::int64_t>();
    }
    if (event.at("type") != "fault") continue;
    if (event.at("kind") == "stripe_search_lag" && lag_at < 0) {
      lag_at = event.at("time_ns").get<std::int64_t>();
    }
    faults.push_back(event.at("kind").get<std::string>() + "@" +
                     event.value("phase", std::string()));
    if (event.at("kind") == "redis_stop") stopped_at = event.at("time_ns").get<std::int64_t>();
    if (event.at("kind") == "redis_start") started_at = event.at("time_ns").get<std::int64_t>();
  }
  BOOST_TEST_INFO("fault events: " << nlohmann::json(faults).dump());
  std::sort(faults.begin(), faults.end());
  BOOST_TEST(
      faults == (std::vector<std::string>{"backend_kill@run", "redis_start@run", "redis_stop@run",
                                          "stripe_search_lag@heal", "stripe_search_lag@run"}),
      boost::test_tools::per_element());
  // The lag keyed to operation 3 came once that operation's invoke was seen.
  BOOST_TEST(op3_at >= 0);
  BOOST_TEST(lag_at >= op3_at);
  // Healed on its own clock, not at the heal phase.
  BOOST_TEST(started_at - stopped_at >= 200'000'000);

  const auto replay =
      test::run_orgquake({"repro", run_dir.string(), "--trial", "0"}, runtime.environment());
  BOOST_TEST_INFO("repro stdout: " << replay.out << "\nstderr: " << replay.err);
  BOOST_TEST(replay.exit_code == 0);
  BOOST_TEST(replay.out.find("fault plan: same") != std::string::npos);
  BOOST_TEST(runtime.leftovers() == 0u);
}

// A backend kill keyed to a lookup's step inside its migration transaction
// acts while that lookup's worker waits at the failpoint, on that client's
// own session (it names it "orgquake:w<W>:c<C>"): the lookup fails, its
// transaction rolls back, a later lookup migrates the user, and the
// decision line names the operation, the failpoint, the hit and the fault.
BOOST_AUTO_TEST_CASE(a_fault_keyed_to_a_failpoint_acts_inside_that_lookup_s_transaction) {
  PrivateRuntime runtime;
  test::TemporaryDirectory out;
  const auto spec = fs::path(out.path()) / "keyed.toml";
  std::ofstream(spec) << R"(description = "backend kills keyed to a step of a migration"
users = 40
trials = 1
[options]
workers = 1
clients = 2
[scenarios.concurrent_duplicate_lookups]
users = 1
rounds = 2
[[scenarios.concurrent_duplicate_lookups.faults]]
kind = "backend_kill"
at_operation = 0
at_failpoint = "migrate.before_commit"
[[scenarios.concurrent_duplicate_lookups.faults]]
kind = "backend_kill"
at_operation = 2
at_failpoint = "migrate.before_commit"
hit = 1
)";
  const auto run_dir = fs::path(out.path()) / "run";
  const auto result =
      test::run_orgquake({"run", "--spec", spec.string(), "--seed", "5", "--out", run_dir.string()},
                         runtime.environment());
  BOOST_TEST_INFO("stdout: " << result.out << "\nstderr: " << result.err);
  BOOST_TEST(result.exit_code == 0);
  const auto trial = read_json(run_dir / "results.json").at("trials").at(0);
  BOOST_TEST(trial.at("verdict") == "valid");
  BOOST_TEST(trial.at("fault_plan").at(0) ==
             nlohmann::json(
                 {{"kind", "backend_kill"},
                  {"timing",
                   {{"at_operation", 0}, {"at_failpoint", "migrate.before_commit"}, {"hit", 1}}}}));
  // Which of the two racing lookups migrates first is the race's; each that
  // reaches the commit in the first round is killed there.
  std::vector<std::string> killed;
  for (const auto& line : trial.at("failpoint_order")) {
    const auto text = line.get<std::string>();
    if (text.find("backend_kill") != std::string::npos) killed.push_back(text);
  }
  BOOST_TEST_INFO("failpoint order: " << trial.at("failpoint_order").dump());
  BOOST_REQUIRE(!killed.empty());
  BOOST_TEST((killed[0].find(" op 0 migrate.before_commit#1 -> fault 0 backend_kill, proceed") !=
                  std::string::npos ||
              killed[0].find(" op 2 migrate.before_commit#1 -> fault 1 backend_kill, proceed") !=
                  std::string::npos));
  std::map<std::int64_t, std::string> ended;  // op -> how it completed
  std::vector<nlohmann::json> kills;
  std::ifstream history(run_dir / "history.jsonl");
  for (std::string line; std::getline(history, line);) {
    const auto event = nlohmann::json::parse(line);
    const auto type = event.at("type").get<std::string>();
    if (type == "fault" && event.at("kind") == "backend_kill") kills.push_back(event.at("value"));
    if (type == "ok" || type == "fail" || type == "info") ended[event.value("op", -1)] = type;
  }
  BOOST_REQUIRE(kills.size() == killed.size());
  for (std::size_t i = 0; i < kills.size(); ++i) {
    BOOST_TEST(kills[i].at("terminated") == 1);  // that client's session, no other
    BOOST_TEST(killed[i].rfind(kills[i].at("at").get<std::string>() + " op ", 0) == 0);
  }
  const bool op0_killed = killed[0].find(" op 0 ") != std::string::npos;
  BOOST_TEST(ended.at(op0_killed ? 0 : 2) != "ok");
  BOOST_TEST(ended.at(op0_killed ? 1 : 3) == "ok");  // the user's next lookup converges
  BOOST_TEST(runtime.leftovers() == 0u);
}

BOOST_AUTO_TEST_SUITE_END()
