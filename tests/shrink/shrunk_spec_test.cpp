#include "shrink/shrunk_spec.hpp"

#include <boost/test/unit_test.hpp>

#include "engine/suite_spec.hpp"
#include "history/history.hpp"
#include "shrink/story.hpp"

using namespace orgquake;
using nlohmann::json;

namespace {

shrink::ShrinkTarget target_of(engine::MigratorDeclaration migrator) {
  shrink::ShrinkTarget target;
  target.spec = engine::parse_suite_spec(
      "users = 40\ntrials = 2\nseed = 1\n[options]\nworkers = 2\nlock_ttl_ms = 700\n"
      "[scenarios.concurrent_duplicate_lookups]\nrounds = 3\n"
      "[[scenarios.concurrent_duplicate_lookups.faults]]\nkind = \"http_fault\"\n"
      "service = \"litellm\"\n"
      "http = { kind = \"apply_then_500\", method = \"POST\", path = \"/key/update\", "
      "probability = 0.25 }\n"
      "[scenarios.stolen_lock]\n",
      "ci.toml", "ci");
  target.run_seed = 18446744073709551615u;  // past TOML's integers
  target.migrator = std::move(migrator);
  target.trial_index = 1;
  target.scenario = "concurrent_duplicate_lookups";
  target.trial_seed = 9653434325838416625u;
  target.entry = target.spec.scenarios[0];
  target.invariant = "no_double_billing";
  return target;
}

}  // namespace

// The file must replay on its own: read back by the spec parser, it is a
// suite of one trial with the reduced plan, the stacked faults, the
// scenario's own options and only the suite options the scenario reads.
BOOST_AUTO_TEST_CASE(the_written_spec_reads_back_as_the_reduced_trial) {
  engine::MigratorDeclaration external;
  external.name = "team_migrator";
  external.command = {"python3", "-m", "team.worker", "--quote=\"x\""};
  external.working_directory = "/srv/team";
  external.environment = {{"TEAM_MODE", "ci"}};
  const auto target = target_of(external);
  shrink::Candidate candidate;
  candidate.faults = std::set<int>{0};
  candidate.operations = std::set<std::int64_t>{3, 17};
  candidate.overrides = {{"rounds", 3}, {"lock_max_wait_ms", 250}};
  const std::string text =
      shrink::shrunk_spec_toml(target, candidate, {"the story", "", "  1.2 s  w0.c0 op 3"});
  BOOST_TEST_INFO("spec:\n" << text);
  BOOST_TEST(text.rfind("# the story\n#\n#   1.2 s  w0.c0 op 3\n", 0) == 0u);

  const auto spec = engine::parse_suite_spec(text, "shrunk.toml", "shrunk");
  BOOST_TEST(spec.trials == 1);
  BOOST_TEST(spec.users == 40);
  BOOST_TEST(spec.seed.value() == 18446744073709551615u);
  BOOST_TEST(spec.migrator.value() == "team_migrator");
  BOOST_REQUIRE(spec.migrators.size() == 1u);
  BOOST_TEST(spec.migrators[0].command == external.command, boost::test_tools::per_element());
  BOOST_TEST(spec.migrators[0].environment.at("TEAM_MODE") == "ci");
  BOOST_TEST(spec.options == (json{{"workers", 2}, {"lock_ttl_ms", 700}}));
  BOOST_REQUIRE(spec.scenarios.size() == 1u);
  const auto& entry = spec.scenarios[0];
  BOOST_TEST(entry.scenario == "concurrent_duplicate_lookups");
  BOOST_TEST(entry.overrides == candidate.overrides);
  BOOST_TEST(entry.faults == target.entry.faults);
  BOOST_REQUIRE(entry.replay.has_value());
  BOOST_TEST(entry.replay->seed == 9653434325838416625u);
  BOOST_TEST(entry.replay->faults.value() == (std::vector<int>{0}),
             boost::test_tools::per_element());
  BOOST_TEST(entry.replay->operations.value() == (std::vector<std::int64_t>{3, 17}),
             boost::test_tools::per_element());
}

// A migrator of the catalog is named, not declared; a suite option the
// scenario does not read is left out (the spec would be refused).
BOOST_AUTO_TEST_CASE(a_catalog_migrator_is_named_and_foreign_options_are_left_out) {
  engine::MigratorDeclaration built_in;
  built_in.name = "bug:release_without_owner_check";
  auto target = target_of(built_in);
  target.scenario = "stolen_lock";
  target.entry = target.spec.scenarios[1];
  const std::string text = shrink::shrunk_spec_toml(target, {}, {});
  BOOST_TEST_INFO("spec:\n" << text);
  BOOST_TEST(text.find("[migrators.") == std::string::npos);
  const auto spec = engine::parse_suite_spec(text, "shrunk.toml", "shrunk");
  BOOST_TEST(spec.options == (json{{"lock_ttl_ms", 700}}));
  BOOST_TEST(!spec.scenarios[0].replay->faults);
  BOOST_TEST(!spec.scenarios[0].replay->operations);
}

// The story: the run phase's operations, faults and gated decisions in time
// order, failpoints passed without a decision left out, then the invariant.
BOOST_AUTO_TEST_CASE(the_story_tells_the_run_phase_and_the_evidence) {
  results::TrialResult trial;
  auto event = [&](history::EventType type, std::int64_t ms, std::string kind, json value,
                   int worker = 0, std::int64_t op = 0) {
    history::Event e;
    e.type = type;
    e.time_ns = ms * 1'000'000;
    e.worker = worker;
    e.client = 0;
    e.op = op;
    e.kind = std::move(kind);
    e.user = "1cdb2dc5-bdaf-42e4-bfe7-46c70f69f2a4";
    e.value = std::move(value);
    trial.history.add(std::move(e));
  };
  using T = history::EventType;
  event(T::phase, 0, "run", json::object(), -1, -1);
  event(T::invoke, 10, "lookup", json::object());
  event(T::failpoint, 12, "lock.after_acquire", {{"action", "off"}});
  event(T::failpoint, 20, "migrate.before_commit", {{"action", "gated"}, {"decision", "crash"}});
  event(T::fault, 20, "crash", {{"worker", 0}}, -1, -1);
  event(T::info, 21, "lookup", {{"error", "WorkerDied"}, {"message", "killed\nby the harness"}});
  event(T::phase, 30, "liveness", json::object(), -1, -1);
  event(T::invoke, 31, "lookup", json::object(), 1, 1);
  trial.invariants.push_back(
      {"litellm_migrated_once",
       results::Verdict{results::Validity::invalid,
                        "1 violation",
                        {results::Evidence{"key_left_on_user", "a key stayed", json::object()}}}});
  const auto lines = shrink::story_of(trial, "litellm_migrated_once");
  BOOST_TEST_INFO("story: " << json(lines).dump(1));
  BOOST_REQUIRE(lines.size() == 6u);
  BOOST_TEST(lines[0].find("w0.c0 op 0 lookup 1cdb2dc5") != std::string::npos);
  BOOST_TEST(lines[1].find("at migrate.before_commit: crash") != std::string::npos);
  BOOST_TEST(lines[2].find("fault crash worker=0") != std::string::npos);
  BOOST_TEST(lines[3].find("info: WorkerDied killed by the harness") != std::string::npos);
  BOOST_TEST(lines[4] == "invalid litellm_migrated_once: 1 violation");
  BOOST_TEST(lines[5] == "  - [key_left_on_user] a key stayed");
}
