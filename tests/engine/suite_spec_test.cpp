#define BOOST_TEST_MODULE orgquake suite specs
#include "engine/suite_spec.hpp"

#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#include "core/error.hpp"
#include "engine/interleaving.hpp"
#include "engine/option_reader.hpp"
#include "engine/options.hpp"
#include "engine/scenario.hpp"
#include "invariants/invariant.hpp"

using namespace orgquake;
using engine::OptionSpec;
using nlohmann::json;

namespace {

// Two scenarios of the test's own, so that the suite rules can be exercised
// without the real scenarios (which need servers to run). Neither runs.
// Each reads its options into a struct, as the real ones do: the reads are
// what it declares.
struct AlphaSettings {
  int clients, pause_ms;
  double ratio;
  std::string mode;
};
struct TestAlpha : engine::ScenarioOf<AlphaSettings> {
  std::string_view name() const override { return "test_alpha"; }
  std::string_view description() const override { return "first test scenario"; }
  AlphaSettings read(engine::OptionReader& o) const override {
    return {o.common_count("clients"),
            o.count("pause_ms", 1500, 100, 60000, "how long the holder pauses"),
            o.number("ratio", 0.5, 0.0, 1.0, "share of lookups"),
            o.choice("mode", "a", {"a", "b"}, "which mode")};
  }
  void run(engine::Trial&, const AlphaSettings&) const override {
    throw std::logic_error("test scenarios do not run");
  }
};

// Reads the common option workers, and declares clients itself, with its
// own default.
struct BetaSettings {
  int workers, burst, clients;
};
struct TestBeta : engine::ScenarioOf<BetaSettings> {
  std::string_view name() const override { return "test_beta"; }
  std::string_view description() const override { return "second test scenario"; }
  BetaSettings read(engine::OptionReader& o) const override {
    return {o.common_count("workers"), o.count("burst", 3, 1, 10, "lookups per burst"),
            o.count("clients", 64, 1, 256, "client fibers per worker")};
  }
  void run(engine::Trial&, const BetaSettings&) const override {
    throw std::logic_error("test scenarios do not run");
  }
};

engine::SuiteSpec parse(std::string_view toml) {
  return engine::parse_suite_spec(toml, "spec.toml", "spec");
}

std::string usage_error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UsageError& e) {
    return e.what();
  }
  BOOST_FAIL("expected a UsageError");
  return {};
}

// The spec's error: one line, from the file, that contains every part.
void check_error(std::string_view toml, const std::vector<std::string>& parts) {
  const std::string message = usage_error_of([&] { parse(toml); });
  BOOST_TEST_CONTEXT("message: " << message) {
    BOOST_TEST(message.rfind("spec.toml", 0) == 0);
    BOOST_TEST(message.find('\n') == std::string::npos);
    for (const auto& part : parts) {
      BOOST_TEST_INFO("expected part: " << part);
      BOOST_TEST(message.find(part) != std::string::npos);
    }
  }
}

// A common option or a trial option, by name.
const OptionSpec& common(std::string_view name) {
  for (const auto* options : {&engine::common_options(), &engine::trial_options()}) {
    if (const auto* option = engine::find_option(*options, name)) return *option;
  }
  throw std::logic_error("no common or trial option " + std::string(name));
}

std::string some_invariant() {
  BOOST_REQUIRE(!invariants::all_invariants().empty());
  return std::string(invariants::all_invariants().front()->name());
}

constexpr std::string_view kFull = R"(
description = "a test suite"
users = 300
trials = 3
seed = 42
migrator = "seed_naive"

[options]
workers = 8
lock_ttl_ms = 2000

[scenarios.test_beta]
lock_ttl_ms = 3000
burst = 5

[scenarios.test_alpha]
ratio = 1
)";

}  // namespace

ORGQUAKE_REGISTER_SCENARIO(TestAlpha);
ORGQUAKE_REGISTER_SCENARIO(TestBeta);

BOOST_AUTO_TEST_SUITE(options, *boost::unit_test::label("fast"))

BOOST_AUTO_TEST_CASE(common_options_are_the_documented_ones) {
  // The common options: each scenario declares those it reads.
  std::vector<std::string> names;
  for (const auto& option : engine::common_options()) names.push_back(option.name);
  BOOST_TEST(names == (std::vector<std::string>{"workers", "clients", "users"}),
             boost::test_tools::per_element());
  // The trial options: the engine reads them for every scenario.
  names.clear();
  for (const auto& option : engine::trial_options()) names.push_back(option.name);
  const std::vector<std::string> expected{
      "strategy",          "fast_path",         "lock_ttl_ms",    "lock_max_wait_ms",
      "recovery_bound_ms", "liveness_bound_ms", "run_timeout_ms", "interleaving"};
  BOOST_TEST(names == expected, boost::test_tools::per_element());
  BOOST_TEST(common("workers").default_value == json(4));
  BOOST_TEST(common("strategy").default_value == json("joined"));
  BOOST_TEST(common("fast_path").default_value == json(true));
  BOOST_TEST(*common("run_timeout_ms").max == 3600000.0);
  // Every default passes its own check.
  for (const auto* options : {&engine::common_options(), &engine::trial_options()}) {
    for (const auto& option : *options) {
      BOOST_TEST_INFO(option.name);
      BOOST_TEST(!engine::check_option(option, option.default_value));
    }
  }
}

BOOST_AUTO_TEST_CASE(a_scenario_declares_exactly_what_it_reads) {
  const auto* alpha = engine::find_scenario("test_alpha");
  const auto* beta = engine::find_scenario("test_beta");
  BOOST_REQUIRE(alpha && beta);
  std::vector<std::string> names;
  for (const auto& option : alpha->options()) names.push_back(option.name);
  BOOST_TEST(names == (std::vector<std::string>{"clients", "pause_ms", "ratio", "mode"}),
             boost::test_tools::per_element());
  // Declared: the trial options, then the scenario's reads in read order.
  names.clear();
  for (const auto& option : engine::declared_options(*beta)) names.push_back(option.name);
  BOOST_TEST(names.size() == engine::trial_options().size() + 3);
  BOOST_TEST(names.front() == "strategy");
  BOOST_TEST((std::vector<std::string>(names.end() - 3, names.end()) ==
              std::vector<std::string>{"workers", "burst", "clients"}),
             boost::test_tools::per_element());
  // Its own redeclaration of clients keeps its own default.
  BOOST_TEST(engine::find_option(beta->options(), "clients")->default_value == json(64));
}

BOOST_AUTO_TEST_CASE(check_option_explains_in_one_line) {
  BOOST_TEST(*engine::check_option(common("workers"), json("four")) ==
             R"(workers: expected an integer from 1 to 32, got "four")");
  BOOST_TEST(*engine::check_option(common("workers"), json(33)) ==
             "workers: expected an integer from 1 to 32, got 33");
  BOOST_TEST(*engine::check_option(common("workers"), json(4.0)) ==
             "workers: expected an integer from 1 to 32, got 4.0");
  // Booleans are never numbers, however JSON or C++ might convert them.
  BOOST_TEST(engine::check_option(common("workers"), json(true)).has_value());
  BOOST_TEST(*engine::check_option(common("fast_path"), json(1)) ==
             "fast_path: expected true or false, got 1");
  BOOST_TEST(*engine::check_option(common("strategy"), json("eager")) ==
             R"(strategy: expected one of joined, selectin, n_plus_one, got "eager")");
  BOOST_TEST(!engine::check_option(common("strategy"), json("n_plus_one")));
  const OptionSpec ratio{"ratio", 0.5, "", 0.0, 1.0, {}};
  BOOST_TEST(!engine::check_option(ratio, json(1)));  // an integer for a float is fine
  BOOST_TEST(*engine::check_option(ratio, json(1.5)) ==
             "ratio: expected a number from 0 to 1, got 1.5");
  BOOST_TEST(engine::check_option(ratio, json(false)).has_value());
  BOOST_TEST(engine::check_option(ratio, json(std::numeric_limits<double>::quiet_NaN()))
                 .value()
                 .find("got nan") != std::string::npos);
  // An unsigned value beyond int64 is out of every integer option's reach.
  const OptionSpec any{"any", 1, "", std::nullopt, std::nullopt, {}};
  BOOST_TEST(
      engine::check_option(any, json(std::numeric_limits<std::uint64_t>::max())).has_value());
  BOOST_TEST(!engine::check_option(any, json(-5)));
}

BOOST_AUTO_TEST_CASE(a_reader_returns_typed_values_and_rejects_undeclared_names) {
  const json layer{{"workers", 7}, {"lock_ttl_ms", 1500}, {"fast_path", false}};
  std::vector<OptionSpec> declared = engine::trial_options();
  declared.push_back(common("workers"));
  const auto options = engine::resolve_options(declared, {&layer});
  BOOST_TEST(options.value("workers") == json(7));
  BOOST_CHECK_THROW(options.value("nope"), std::logic_error);
  engine::OptionReader reading(options);
  BOOST_TEST(reading.common_count("workers") == 7);
  const auto settings = engine::TrialSettings::read(reading);
  BOOST_TEST(settings.lock_ttl.count() == 1500);
  BOOST_TEST(!settings.fast_path);
  BOOST_TEST(settings.strategy == "joined");
  BOOST_TEST(settings.run_timeout.count() == 30000);
  // A read of an option the trial never resolved is a bug in the reader's code.
  BOOST_CHECK_THROW(reading.count("burst", 3, 1, 10, "lookups per burst"), std::logic_error);
  // So are an option read twice and a duration not named ..._ms.
  engine::OptionReader declaring;
  declaring.count("rounds", 2, 1, 9, "rounds");
  BOOST_CHECK_THROW(declaring.count("rounds", 2, 1, 9, "rounds"), std::logic_error);
  BOOST_CHECK_THROW(declaring.duration("pause", 5, 0, 9, "pause"), std::logic_error);
  BOOST_CHECK_THROW(declaring.common_count("strategy"), std::logic_error);
  // Declaring, a read gives its default.
  BOOST_TEST(declaring.flag("on", true, "a flag"));
  BOOST_TEST(declaring.choice("mode", "b", {"a", "b"}, "mode") == "b");
}

BOOST_AUTO_TEST_CASE(resolve_layers_defaults_suite_then_scenario) {
  const auto spec = parse(kFull);
  const auto* beta = engine::find_scenario("test_beta");
  const auto* alpha = engine::find_scenario("test_alpha");
  BOOST_REQUIRE(beta && alpha);
  const auto b = engine::resolve_options(engine::declared_options(*beta),
                                         {&spec.options, &spec.scenarios[0].overrides});
  BOOST_TEST(b.value("run_timeout_ms") == json(30000));  // trial option default
  BOOST_TEST(b.value("clients") == json(64));            // the scenario declares its own default
  BOOST_TEST(b.value("workers") == json(8));             // [options] over defaults
  BOOST_TEST(b.value("lock_ttl_ms") == json(3000));      // [scenarios.X] over [options]
  BOOST_TEST(b.value("burst") == json(5));
  const auto a = engine::resolve_options(engine::declared_options(*alpha),
                                         {&spec.options, &spec.scenarios[1].overrides});
  BOOST_TEST(a.value("clients") == json(16));
  BOOST_TEST(a.value("lock_ttl_ms") == json(2000));
  BOOST_TEST(a.value("pause_ms") == json(1500));
  // A float option given as an integer is recorded as a float.
  BOOST_TEST(a.value("ratio").get<double>() == 1.0);
  BOOST_TEST(a.json().at("ratio").is_number_float());
  // Options of other scenarios are no business of this one.
  BOOST_TEST(!a.json().contains("burst"));

  const json bad{{"lock_ttl_ms", 10}};
  const auto message =
      usage_error_of([&] { engine::resolve_options(engine::declared_options(*alpha), {&bad}); });
  BOOST_TEST(message == "lock_ttl_ms: expected an integer from 50 to 600000, got 10");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(suite_specs, *boost::unit_test::label("fast"))

BOOST_AUTO_TEST_CASE(a_valid_spec_keeps_its_order_and_values) {
  const auto spec = parse(kFull);
  BOOST_TEST(spec.name == "spec");
  BOOST_TEST(spec.source == "spec.toml");
  BOOST_TEST(spec.description == "a test suite");
  BOOST_TEST(spec.users == 300);
  BOOST_TEST(spec.trials == 3);
  BOOST_TEST(spec.seed.value() == 42u);
  BOOST_TEST(spec.migrator.value() == "seed_naive");
  BOOST_TEST(spec.options == (json{{"workers", 8}, {"lock_ttl_ms", 2000}}));
  // The file lists test_beta first; toml++ would give them in name order.
  BOOST_REQUIRE(spec.scenarios.size() == 2u);
  BOOST_TEST(spec.scenarios[0].scenario == "test_beta");
  BOOST_TEST(spec.scenarios[0].overrides == (json{{"lock_ttl_ms", 3000}, {"burst", 5}}));
  BOOST_TEST(spec.scenarios[1].scenario == "test_alpha");
  BOOST_TEST(spec.scenarios[1].overrides == (json{{"ratio", 1}}));
}

BOOST_AUTO_TEST_CASE(a_minimal_spec_takes_the_defaults) {
  const auto spec = parse("[scenarios.test_alpha]\n");
  BOOST_TEST(spec.users == 200);
  BOOST_TEST(spec.trials == 1);
  BOOST_TEST(!spec.seed);
  BOOST_TEST(!spec.migrator);
  BOOST_TEST(spec.invariants.empty());
  BOOST_TEST(spec.options == json::object());
  BOOST_REQUIRE(spec.scenarios.size() == 1u);
  BOOST_TEST(spec.scenarios[0].overrides == json::object());
}

BOOST_AUTO_TEST_CASE(invariant_names_are_checked_against_the_registry) {
  const std::string name = some_invariant();
  const auto spec = parse("invariants = [\"" + name + "\"]\n[scenarios.test_alpha]\n");
  BOOST_TEST(spec.invariants == std::vector<std::string>{name}, boost::test_tools::per_element());
  check_error("invariants = [\"no_such_rule\"]\n[scenarios.test_alpha]\n",
              {"invariants", "unknown invariant \"no_such_rule\"", name});
}

BOOST_AUTO_TEST_CASE(an_unknown_top_level_key_names_the_allowed_ones) {
  check_error("colour = 3\n[scenarios.test_alpha]\n",
              {"unknown key \"colour\"", "allowed keys", "description", "invariants", "scenarios"});
}

BOOST_AUTO_TEST_CASE(an_unknown_option_names_the_options_of_the_suite) {
  check_error("[options]\nwrokers = 4\n[scenarios.test_beta]\n",
              {"[options]", "unknown option \"wrokers\"", "workers", "burst"});
  // An option of a scenario the suite does not run is not the suite's.
  check_error("[options]\npause_ms = 400\n[scenarios.test_beta]\n",
              {"unknown option \"pause_ms\"", "scenario test_alpha"});
}

BOOST_AUTO_TEST_CASE(an_option_of_another_scenario_names_its_owner) {
  check_error("[scenarios.test_alpha]\nburst = 2\n[scenarios.test_beta]\n",
              {"[scenarios.test_alpha]", "unknown option \"burst\"", "pause_ms", "clients",
               "strategy", "scenario test_beta"});
}

BOOST_AUTO_TEST_CASE(a_common_option_that_no_scenario_of_the_trial_reads_is_refused) {
  // test_alpha reads clients but not workers: workers in its table would be
  // silently ignored, so it is an error naming who does read it.
  check_error("[scenarios.test_alpha]\nworkers = 2\n[scenarios.test_beta]\n",
              {"[scenarios.test_alpha]", "unknown option \"workers\"", "clients",
               "workers is an option of scenario test_beta"});
  // In [options], a key that no scenario of the suite reads.
  check_error("[options]\nworkers = 2\n[scenarios.test_alpha]\n",
              {"[options]", "unknown option \"workers\"", "scenario test_beta"});
  check_error("[options]\nusers = 2\n[scenarios.test_alpha]\n[scenarios.test_beta]\n",
              {"[options]", "unknown option \"users\""});
  // Read by one scenario of the suite is enough for [options].
  BOOST_TEST(
      parse("[options]\nworkers = 2\n[scenarios.test_alpha]\n[scenarios.test_beta]\n").options ==
      (json{{"workers", 2}}));
}

BOOST_AUTO_TEST_CASE(a_value_of_the_wrong_type_or_range_is_rejected) {
  check_error("[options]\nworkers = \"four\"\n[scenarios.test_beta]\n",
              {R"([options] workers: expected an integer from 1 to 32, got "four")"});
  check_error("[scenarios.test_beta]\nworkers = 64\n",
              {"[scenarios.test_beta] workers: expected an integer from 1 to 32, got 64"});
  check_error("[scenarios.test_alpha]\nmode = \"c\"\n", {"mode: expected one of a, b"});
  check_error("[scenarios.test_alpha]\nfast_path = 1\n", {"fast_path: expected true or false"});
  // [options] must suit every scenario that declares the key.
  check_error("[options]\npause_ms = 5\n[scenarios.test_alpha]\n",
              {"pause_ms: expected an integer from 100 to 60000, got 5"});
  check_error("users = 0\n[scenarios.test_alpha]\n",
              {"users: expected an integer from 1 to 1000000, got 0"});
  check_error("trials = 10001\n[scenarios.test_alpha]\n",
              {"trials: expected an integer from 1 to 10000"});
  check_error("description = 3\n[scenarios.test_alpha]\n", {"description: expected a string"});
  check_error("options = 3\n[scenarios.test_alpha]\n", {"options: expected a table"});
  check_error("scenarios = [\"test_alpha\"]\n", {"scenarios: expected [scenarios.NAME] tables"});
  check_error("[scenarios]\ntest_alpha = 1\n", {"scenarios.test_alpha: expected a table"});
  check_error("[options]\nworkers = 1979-05-27\n[scenarios.test_alpha]\n",
              {"spec.toml:2:", "workers: dates"});
}

BOOST_AUTO_TEST_CASE(unknown_names_list_what_exists) {
  check_error("[scenarios.test_gamma]\n",
              {"unknown scenario \"test_gamma\"", "test_alpha", "test_beta"});
  check_error("migrator = \"fancy\"\n[scenarios.test_alpha]\n",
              {"unknown migrator \"fancy\"", "reference", "seed_naive"});
}

BOOST_AUTO_TEST_CASE(a_syntax_error_gives_line_and_column) {
  check_error("users = 10\ntrials = 1\nseed = = 3\n[scenarios.test_alpha]\n", {"spec.toml:3:"});
}

BOOST_AUTO_TEST_CASE(a_spec_without_scenarios_is_rejected) {
  check_error("users = 10\n", {"no scenarios", "[scenarios.NAME]", "test_alpha"});
}

BOOST_AUTO_TEST_CASE(a_seed_must_not_be_negative) {
  check_error("seed = -1\n[scenarios.test_alpha]\n",
              {"seed: expected a non-negative integer (or its decimal string), got -1"});
  BOOST_TEST(parse("seed = 9223372036854775807\n[scenarios.test_alpha]\n").seed.value() ==
             9223372036854775807u);
}

// A seed beyond TOML's integers is written as its digits.
BOOST_AUTO_TEST_CASE(a_seed_may_be_a_decimal_string) {
  BOOST_TEST(parse("seed = \"18446744073709551615\"\n[scenarios.test_alpha]\n").seed.value() ==
             std::numeric_limits<std::uint64_t>::max());
  check_error("seed = \"12a\"\n[scenarios.test_alpha]\n", {"seed: expected a non-negative"});
  check_error("seed = \"18446744073709551616\"\n[scenarios.test_alpha]\n",
              {"seed: expected a non-negative"});
}

// The replay table `orgquake shrink` writes: the trial's seed, the plan
// entries that act and the operations that run; bad tables are one line.
BOOST_AUTO_TEST_CASE(a_replay_table_pins_a_trial_and_what_of_it_runs) {
  const auto spec = parse(
      "[scenarios.test_alpha]\n"
      "[scenarios.test_alpha.replay]\n"
      "seed = \"15536203642482568458\"\nfaults = [0, 2]\noperations = [4, 1]\n");
  BOOST_REQUIRE(spec.scenarios.size() == 1u);
  const auto& replay = spec.scenarios[0].replay;
  BOOST_REQUIRE(replay.has_value());
  BOOST_TEST(replay->seed == 15536203642482568458u);
  BOOST_TEST(replay->faults.value() == (std::vector<int>{0, 2}), boost::test_tools::per_element());
  BOOST_TEST(replay->operations.value() == (std::vector<std::int64_t>{4, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(spec.scenarios[0].overrides.empty(), "the replay table is not an option");
  const auto back = engine::SuiteSpec::from_json(spec.to_json());
  BOOST_TEST(back.to_json() == spec.to_json());
  BOOST_TEST(back.scenarios[0].replay->seed == 15536203642482568458u);

  const auto without_lists =
      parse("[scenarios.test_alpha.replay]\nseed = \"7\"\n").scenarios[0].replay;
  BOOST_TEST(!without_lists->faults);
  BOOST_TEST(!without_lists->operations);

  check_error("[scenarios.test_alpha.replay]\nfaults = [1]\n", {"replay: seed: missing"});
  check_error("[scenarios.test_alpha.replay]\nseed = \"x\"\n", {"replay.seed: expected"});
  check_error("[scenarios.test_alpha.replay]\nseed = \"1\"\nfaults = [-1]\n",
              {"replay.faults: expected a list of non-negative integers"});
  check_error("[scenarios.test_alpha.replay]\nseed = \"1\"\noperations = \"all\"\n",
              {"replay.operations: expected a list"});
  check_error("[scenarios.test_alpha.replay]\nseed = \"1\"\nclients = [1]\n",
              {"unknown key \"clients\"", "seed, faults, operations"});
}

BOOST_AUTO_TEST_CASE(to_json_and_from_json_round_trip) {
  auto spec = parse(kFull);
  spec.invariants = {some_invariant()};
  spec.seed = std::numeric_limits<std::uint64_t>::max();  // a --seed beyond TOML's reach
  const json j = spec.to_json();
  BOOST_TEST(j.at("seed").is_number_unsigned());
  const auto back = engine::SuiteSpec::from_json(j);
  BOOST_TEST(back.to_json() == j);
  BOOST_TEST(back.source == "spec.toml");
  BOOST_TEST(back.seed.value() == std::numeric_limits<std::uint64_t>::max());
  BOOST_REQUIRE(back.scenarios.size() == 2u);
  BOOST_TEST(back.scenarios[0].scenario == "test_beta");

  const auto minimal = engine::SuiteSpec::from_json(parse("[scenarios.test_alpha]\n").to_json());
  BOOST_TEST(!minimal.seed);
  BOOST_TEST(!minimal.migrator);
}

BOOST_AUTO_TEST_CASE(from_json_validates_as_the_toml_path_does) {
  const json good = parse(kFull).to_json();
  const auto error_with = [&](const std::function<void(json&)>& edit) {
    json j = good;
    edit(j);
    return usage_error_of([&] { engine::SuiteSpec::from_json(j); });
  };
  BOOST_TEST(error_with([](json& j) {
               j["scenarios"][0]["scenario"] = "test_gamma";
             }).find("unknown scenario \"test_gamma\"") != std::string::npos);
  BOOST_TEST(error_with([](json& j) {
               j["options"]["workers"] = 99;
             }).find("[options] workers: expected an integer from 1 to 32, got 99") !=
             std::string::npos);
  BOOST_TEST(error_with([](json& j) {
               j["scenarios"][1]["overrides"]["burst"] = 2;
             }).find("unknown option \"burst\"") != std::string::npos);
  BOOST_TEST(error_with([](json& j) { j["migrator"] = "fancy"; }).find("unknown migrator") !=
             std::string::npos);
  BOOST_TEST(error_with([](json& j) { j["seed"] = -3; }).find("seed: expected a non-negative") !=
             std::string::npos);
  BOOST_TEST(error_with([](json& j) { j["colour"] = 1; }).find("unknown key \"colour\"") !=
             std::string::npos);
  // Errors name the spec's source.
  BOOST_TEST(error_with([](json& j) { j["users"] = 0; }).rfind("spec.toml: ", 0) == 0);
  BOOST_CHECK_THROW(engine::SuiteSpec::from_json(json::array()), UsageError);
  BOOST_CHECK_THROW(engine::SuiteSpec::from_json(json{{"users", 3}}), UsageError);
}

BOOST_AUTO_TEST_CASE(built_in_suites_and_spec_files) {
  BOOST_TEST(
      engine::suite_names() == (std::vector<std::string>{"ci", "nightly", "rollout", "smoke"}),
      boost::test_tools::per_element());
  BOOST_TEST(usage_error_of([] { engine::load_suite("nope"); }) ==
             R"(unknown suite "nope"; suites: ci, nightly, rollout, smoke)");
  // The real scenarios are not linked here, so a built-in suite may fail on
  // its scenario names, but on nothing before them (syntax, keys, names).
  for (const auto& name : engine::suite_names()) {
    try {
      const auto suite = engine::load_suite(name);
      BOOST_TEST(!suite.scenarios.empty());
    } catch (const UsageError& e) {
      const std::string message = e.what();
      BOOST_TEST_INFO(message);
      BOOST_TEST(message.rfind("suite " + name + ": unknown scenario", 0) == 0);
    }
  }
  const auto missing = usage_error_of([] { engine::load_spec_file("/nonexistent/x.toml"); });
  BOOST_TEST(missing.find("/nonexistent/x.toml") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(interleaving)

using engine::HappensBefore;
using engine::parse_interleaving;

BOOST_AUTO_TEST_CASE(pairs_and_chains_become_happens_before_pairs) {
  BOOST_TEST(parse_interleaving("").empty());
  BOOST_TEST(parse_interleaving("  ").empty());
  const auto pairs = parse_interleaving(
      " migrate.after_journal -> lookup.after_lock_acquire ;"
      "lock.after_acquire->migrate.after_commit->lookup.after_load;");
  const std::vector<HappensBefore> expected{{"migrate.after_journal", "lookup.after_lock_acquire"},
                                            {"lock.after_acquire", "migrate.after_commit"},
                                            {"migrate.after_commit", "lookup.after_load"}};
  BOOST_TEST((pairs == expected));
  // A pair given twice is one pair.
  BOOST_TEST(parse_interleaving("lock.after_acquire -> lookup.after_load; "
                                "lock.after_acquire -> lookup.after_load")
                 .size() == 1u);
}

BOOST_AUTO_TEST_CASE(a_bad_interleaving_says_what_is_wrong) {
  auto error_of = [](std::string_view text) {
    return usage_error_of([&] { parse_interleaving(text); });
  };
  BOOST_TEST(error_of("lock.after_acquire").find("orders nothing") != std::string::npos);
  BOOST_TEST(error_of("lock.after_acquire -> ").find("empty step") != std::string::npos);
  const auto typo = error_of("lock.after_aquire -> lookup.after_load");
  BOOST_TEST(typo.find("unknown failpoint \"lock.after_aquire\"") != std::string::npos);
  BOOST_TEST(typo.find("did you mean \"lock.after_acquire\"") != std::string::npos);
  BOOST_TEST(error_of("lookup.after_load -> lookup.after_load").find("before itself") !=
             std::string::npos);
  const auto cycle = error_of(
      "lock.after_acquire -> migrate.after_commit; migrate.after_commit -> lookup.after_load; "
      "lookup.after_load -> migrate.after_commit");
  BOOST_TEST(cycle.find("cycle (migrate.after_commit -> lookup.after_load -> "
                        "migrate.after_commit)") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_spec_with_a_bad_interleaving_is_rejected_naming_the_option) {
  check_error(
      "[options]\ninterleaving = \"lock.after_aquire -> lookup.after_load\"\n"
      "[scenarios.test_alpha]\n",
      {"[options] interleaving: unknown failpoint \"lock.after_aquire\""});
  check_error("[scenarios.test_alpha]\ninterleaving = 3\n", {"interleaving: expected a string"});
  const auto spec = parse(
      "[scenarios.test_alpha]\ninterleaving = \"migrate.after_journal -> lookup.after_load\"\n");
  BOOST_TEST(spec.scenarios.size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_CASE(faults_stack_beside_a_scenario_and_survive_the_json_round_trip) {
  const auto spec = parse(R"(
[scenarios.test_alpha]
pause_ms = 2000
[[scenarios.test_alpha.faults]]
kind = "redis_outage"
at_ms = 40
lasting_ms = 300
[[scenarios.test_alpha.faults]]
kind = "http_fault"
service = "litellm"
http = { kind = "status", status = 429, path = "/key/update" }
)");
  BOOST_REQUIRE(spec.scenarios.size() == 1u);
  const auto& entry = spec.scenarios[0];
  BOOST_TEST(entry.overrides == json({{"pause_ms", 2000}}));  // faults are not an option
  BOOST_REQUIRE(entry.faults.size() == 2u);
  BOOST_TEST(entry.faults[0].at("kind") == "redis_outage");
  BOOST_TEST(entry.faults[1].at("http").at("status") == 429);
  const auto again = engine::SuiteSpec::from_json(spec.to_json());
  BOOST_TEST(again.scenarios.at(0).faults == entry.faults);
}

BOOST_AUTO_TEST_CASE(a_bad_stacked_fault_names_the_file_the_scenario_and_the_key) {
  check_error(R"(
[scenarios.test_alpha]
[[scenarios.test_alpha.faults]]
kind = "redis_outage"
duration_ms = 300
)",
              {"scenarios.test_alpha.faults[0]", "unknown key duration_ms", "lasting_ms"});
  check_error(R"(
[scenarios.test_alpha]
faults = "redis"
)",
              {"scenarios.test_alpha.faults", "list of tables"});
}
