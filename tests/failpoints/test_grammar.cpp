#include <string>
#include <vector>

#include <boost/test/data/monomorphic.hpp>
#include <boost/test/data/test_case.hpp>
#include <boost/test/unit_test.hpp>

#include "core/error.hpp"
#include "migrator/failpoints/spec_parser.hpp"
#include "tests/failpoints/fixture.hpp"

namespace data = boost::unit_test::data;
using namespace orgquake;
using namespace orgquake::failpoints;

namespace {

std::string configuration_of(std::string_view name) {
  for (const FailpointState& state : describe()) {
    if (state.name == name) return state.configuration;
  }
  BOOST_FAIL("no failpoint " << name << " in describe()");
  return {};
}

// The message of the UsageError that `configure(text)` throws, or "" if none.
std::string configure_error(const std::string& text) {
  try {
    configure(text);
  } catch (const UsageError& error) {
    return error.what();
  }
  return {};
}

// Written forms and their canonical text, which must parse back to the same spec.
const std::vector<std::string> valid_specs = {
    "off",
    "return",
    "return()",
    "return(stripe is down)",
    "return(a;b->c (d) 50%)",
    "sleep(100)",
    " 50 % 2 * sleep( 100 ) -> off ",
    "0.5%crash",
    "100%yield",
    "0%pause",
    "0*crash",
    "2*sleep(100)->off",
    "1*return(first)->1*pause->crash",
};
const std::vector<std::string> canonical_specs = {
    "off",
    "return",
    "return",
    "return(stripe is down)",
    "return(a;b->c (d) 50%)",
    "sleep(100)",
    "50%2*sleep(100)->off",
    "0.5%crash",
    "yield",
    "0%pause",
    "0*crash",
    "2*sleep(100)->off",
    "1*return(first)->1*pause->crash",
};

// Each malformed configuration and a fragment its one-line error must contain.
const std::vector<std::string> malformed_configurations = {
    "migrate.after_org_insert",
    "=crash",
    "migrate.after_org_insert=",
    "migrate.after_org_insert=crsh",
    "migrate.after_org_insert=abc%crash",
    "migrate.after_org_insert=150%crash",
    "migrate.after_org_insert=-5%crash",
    "migrate.after_org_insert=5*50%crash",
    "migrate.after_org_insert=x*crash",
    "migrate.after_org_insert=-1*crash",
    "migrate.after_org_insert=50%",
    "migrate.after_org_insert=sleep",
    "migrate.after_org_insert=sleep(soon)",
    "migrate.after_org_insert=sleep(100000000000)",
    "migrate.after_org_insert=crash(now)",
    "migrate.after_org_insert=yield()",
    "migrate.after_org_insert=return(oops",
    "migrate.after_org_insert=return(a))",
    "migrate.after_org_insert=sleep(10)x",
    "migrate.after_org_insert=off)",
    "migrate.after_org_insert=off->",
    "migrate.after_org_insert=->off",
    "migrate.after_org_insert=crash;migrate.after_org_insert=off",
};
const std::vector<std::string> expected_errors = {
    "\"migrate.after_org_insert\": missing '='",
    "missing failpoint name before '='",
    "failpoint migrate.after_org_insert: no action given",
    "failpoint migrate.after_org_insert: term \"crsh\": unknown action \"crsh\"",
    "term \"abc%crash\": probability \"abc\" is not a number",
    "term \"150%crash\": probability 150% is outside 0% to 100%",
    "probability -5% is outside 0% to 100%",
    "probability \"5*50\" is not a number (the form is p%n*action",
    "term \"x*crash\": count \"x\" is not a whole number",
    "count \"-1\" is not a whole number",
    "term \"50%\": no action",
    "sleep needs a duration in milliseconds",
    "sleep duration \"soon\" is not a whole number of milliseconds",
    "sleep duration 100000000000 ms is longer than a day",
    "term \"crash(now)\": crash takes no argument",
    "yield takes no argument",
    "term \"return(oops\": missing ')' after the argument",
    "unbalanced parentheses in the argument",
    "text after the argument's ')'",
    "')' without '('",
    "failpoint migrate.after_org_insert: \"off->\" has an empty term",
    "\"->off\" has an empty term",
    "failpoint migrate.after_org_insert: configured twice",
};

}  // namespace

BOOST_FIXTURE_TEST_SUITE(grammar, testing::CleanRegistry, *boost::unit_test::label("fast"))

BOOST_DATA_TEST_CASE(valid_spec_is_accepted_and_shown_in_canonical_form,
                     data::make(valid_specs) ^ data::make(canonical_specs), written, canonical) {
  set("migrate.after_org_insert", written);
  BOOST_TEST(configuration_of("migrate.after_org_insert") == canonical);
  BOOST_TEST((parse_spec("migrate.after_org_insert", canonical) ==
              parse_spec("migrate.after_org_insert", written)));
}

BOOST_AUTO_TEST_CASE(terms_carry_probability_count_action_and_argument) {
  const Spec spec = parse_spec("lookup.after_lock_acquire", "12.5%3*sleep(250)->return(gone)");
  BOOST_TEST_REQUIRE(spec.terms.size() == 2u);
  BOOST_TEST(spec.terms[0].percent == 12.5);
  BOOST_TEST(spec.terms[0].max_triggers.value() == 3u);
  BOOST_TEST((spec.terms[0].action == Action::sleep));
  BOOST_TEST(spec.terms[0].duration.count() == 250);
  BOOST_TEST(spec.terms[1].percent == 100.0);
  BOOST_TEST(!spec.terms[1].max_triggers.has_value());
  BOOST_TEST((spec.terms[1].action == Action::return_error));
  BOOST_TEST(spec.terms[1].text == "gone");
}

BOOST_AUTO_TEST_CASE(configuration_sets_several_failpoints_and_skips_empty_items) {
  configure(" migrate.after_org_insert=50%crash ; ;lookup.after_lock_acquire=2*sleep(100)->off;");
  BOOST_TEST(configuration_of("migrate.after_org_insert") == "50%crash");
  BOOST_TEST(configuration_of("lookup.after_lock_acquire") == "2*sleep(100)->off");
  BOOST_TEST(configuration_of("migrate.after_commit") == "");
  BOOST_TEST(is_armed(Failpoint::migrate_after_org_insert));
  BOOST_TEST(!is_armed(Failpoint::migrate_after_commit));
}

BOOST_AUTO_TEST_CASE(configuration_is_additive_per_failpoint) {
  configure("migrate.after_org_insert=crash");
  configure("migrate.after_commit=off");
  BOOST_TEST(configuration_of("migrate.after_org_insert") == "crash");
  BOOST_TEST(configuration_of("migrate.after_commit") == "off");
}

BOOST_DATA_TEST_CASE(malformed_configuration_is_one_line_saying_what_is_wrong,
                     data::make(malformed_configurations) ^ data::make(expected_errors), text,
                     expected) {
  const std::string message = configure_error(text);
  BOOST_TEST(message.find(expected) != std::string::npos, "\"" << message << "\"");
  BOOST_TEST(message.find('\n') == std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_bad_configuration_changes_nothing) {
  set("migrate.after_commit", "off");
  BOOST_CHECK_THROW(configure("migrate.after_org_insert=crash;migrate.after_commit=crsh"),
                    UsageError);
  BOOST_TEST(configuration_of("migrate.after_org_insert") == "");
  BOOST_TEST(configuration_of("migrate.after_commit") == "off");
  BOOST_CHECK_THROW(set("migrate.after_commit", "sleep"), UsageError);
  BOOST_TEST(configuration_of("migrate.after_commit") == "off");
}

BOOST_AUTO_TEST_CASE(unknown_name_is_an_error_suggesting_the_closest_known_name) {
  BOOST_TEST(configure_error("migrate.after_org_insrt=crash") ==
             "unknown failpoint \"migrate.after_org_insrt\" (did you mean "
             "\"migrate.after_org_insert\"?); `orgquake list` shows every failpoint");
  BOOST_TEST(configure_error("billing.refund_everyone=crash") ==
             "unknown failpoint \"billing.refund_everyone\"; `orgquake list` shows every "
             "failpoint");
  BOOST_CHECK_THROW(set("lock.after_aquire", "off"), UsageError);
  BOOST_CHECK_THROW(clear("lock.after_aquire"), UsageError);
  BOOST_CHECK_THROW(release("lock.after_aquire"), UsageError);
  BOOST_CHECK_THROW(paused_count("lock.after_aquire"), UsageError);
}

BOOST_AUTO_TEST_CASE(every_listed_name_is_found_and_unlisted_ones_are_not) {
  for (Failpoint point : all_failpoints()) {
    BOOST_TEST((find_failpoint(name_of(point)) == point));
    BOOST_TEST(!description_of(point).empty());
  }
  BOOST_TEST(!find_failpoint("migrate_after_org_insert").has_value());
  BOOST_TEST(name_of(Failpoint::migrate_after_org_insert) == "migrate.after_org_insert");
}

BOOST_AUTO_TEST_SUITE_END()
