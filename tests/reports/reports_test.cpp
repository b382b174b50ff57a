#define BOOST_TEST_MODULE orgquake report writers
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>
#include <vector>

#include <boost/test/unit_test.hpp>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "reports/history_jsonl.hpp"
#include "reports/junit_xml.hpp"
#include "reports/report_html.hpp"
#include "reports/results_json.hpp"
#include "reports/run_reports.hpp"
#include "results/known_bugs.hpp"
#include "results/run_result_json.hpp"
#include "results/shard_merge.hpp"

using namespace orgquake;
using history::EventType;
using nlohmann::json;
using results::Validity;

namespace {

constexpr std::uint64_t max_seed = std::numeric_limits<std::uint64_t>::max();
// Evidence that would end a <script> element, open a tag and start an entity
// if any writer copied it raw, with characters beyond ASCII.
const std::string hostile = "</script><b>& <!-- \"quoted\" 'single' Zürich ✓ 日本";
const std::string hostile_html = "&lt;/script&gt;&lt;b&gt;&amp;";

history::Event event(EventType type, std::int64_t time_ns, int worker, int client, std::int64_t op,
                     std::string kind, json value = json::object()) {
  history::Event e;
  e.type = type;
  e.time_ns = time_ns;
  e.worker = worker;
  e.client = client;
  e.op = op;
  e.kind = std::move(kind);
  e.value = std::move(value);
  if (type == EventType::invoke || type == EventType::ok || type == EventType::fail ||
      type == EventType::info) {
    e.user = "u" + std::to_string(op);
    e.phase = "run";
  }
  return e;
}

// Two scenarios, three trials: valid, invalid (hostile evidence), unknown
// (a harness error); a history with every kind of event.
results::RunResult sample_run() {
  results::RunResult run;
  run.seed = max_seed;
  run.suite = "ci";
  run.migrator = "reference";
  run.users = 40;
  run.verdict = Validity::invalid;
  run.duration_s = 12.5;
  run.git_sha = "0123abcd";
  run.started_at = "2026-01-02T03:04:05Z";
  run.out_dir = "reports/out/run-1";
  run.spec = {{"name", "ci"}, {"trials", 3}};

  results::TrialResult valid;
  valid.index = 0;
  valid.scenario = "concurrent_duplicate_lookups";
  valid.seed = max_seed;
  valid.verdict = Validity::valid;
  valid.invariants.push_back(
      {"same_org_per_lookup", results::Verdict::valid("same org: held for 3 lookups")});
  valid.stats.max_concurrent_lookups = 3;
  valid.stats.lock_waits = 2;
  valid.stats.crashes = 1;
  valid.stats.pauses = 1;
  valid.stats.operations = 4;
  valid.stats.ok = 1;
  valid.stats.failed = 1;
  valid.stats.unknown_outcome = 1;
  valid.stats.faults = 3;
  valid.stats.failpoint_hits = 2;
  valid.fault_plan = json::array({{{"at_ms", 5}, {"fault", "pause"}, {"worker", 1}}});
  valid.failpoint_order = {"w1.c0 lock.after_acquire -> proceed"};
  valid.options = {{"clients", 2}, {"workers", 2}};
  valid.duration_s = 1.25;
  valid.repro_command = "orgquake repro reports/out/run-1 --trial 0";
  auto& h = valid.history;
  h.add(event(EventType::phase, 0, history::controller, -1, -1, "run"));
  h.add(event(EventType::invoke, 1'000, 0, 0, 1, "lookup"));
  h.add(event(EventType::invoke, 1'500, 0, 1, 2, "lookup"));
  h.add(event(EventType::invoke, 2'000, 1, 0, 3, "migrate"));
  h.add(event(EventType::failpoint, 2'500, 1, 0, 3, "lock.after_acquire",
              {{"action", "gated"}, {"decision", "proceed"}}));
  h.add(
      event(EventType::failpoint, 2'600, 0, 1, 2, "migrate.after_org_insert", {{"action", "off"}}));
  h.add(event(EventType::ok, 3'400'000, 0, 0, 1, "lookup", {{"verified", true}}));
  h.add(event(EventType::fault, 3'500'000, history::controller, -1, -1, "pause",
              {{"worker", 1}, {"signal", "SIGSTOP"}}));
  h.add(event(EventType::fail, 4'000'000, 0, 1, 2, "lookup",
              {{"error", "LockTimeout"}, {"message", "lock wait ran out"}}));
  h.add(event(EventType::fault, 5'000'000, history::controller, -1, -1, "crash",
              {{"worker", 1}, {"signal", "SIGKILL"}}));
  h.add(event(EventType::info, 5'000'001, 1, 0, 3, "migrate",
              {{"error", "WorkerDied"}, {"message", "worker 1 killed"}}));
  h.add(event(EventType::phase, 6'000'000, history::controller, -1, -1, "heal"));
  h.add(event(EventType::fault, 6'000'001, history::controller, -1, -1, "heal"));
  h.add(event(EventType::invoke, 7'000'000, 0, 0, 4, "lookup"));  // never completes
  h.add(event(EventType::phase, 8'000'000, history::controller, -1, -1, "liveness"));
  h.finish();

  results::TrialResult invalid;
  invalid.index = 1;
  invalid.scenario = "lock_holder_pause";
  invalid.seed = 42;
  invalid.verdict = Validity::invalid;
  invalid.invariants.push_back(
      {"one_personal_org",
       results::Verdict{Validity::invalid,
                        "one personal org: 2 violations; first: " + hostile,
                        // u2's evidence has no symptom, as if read from a
                        // results.json older than the codes.
                        {{"several_personal_orgs",
                          "user u1 owns 2 personal orgs " + hostile,
                          {{"rows", json::array({hostile, "org-1"})},
                           {"endpoint", "http://127.0.0.1:8080/v1/customers"}}},
                         {"", "user u2 owns 2 personal orgs \x01 bell\x07", json::object()}}}});
  invalid.invariants.push_back({"no_double_billing", results::Verdict::valid("held")});
  invalid.repro_command = "orgquake repro reports/out/run-1 --trial 1";
  invalid.duration_s = 2;
  // Added out of time order and never finished: writers must still order it.
  invalid.history.add(event(EventType::fail, 9'000, 0, 0, 7, "lookup",
                            {{"error", "Injected"}, {"message", hostile}}));
  invalid.history.add(event(EventType::invoke, 1'000, 0, 0, 7, "lookup"));

  results::TrialResult unknown;
  unknown.index = 2;
  unknown.scenario = "concurrent_duplicate_lookups";
  unknown.seed = 7;
  unknown.verdict = Validity::unknown;
  unknown.error = "postgres died: </script> & gone";
  unknown.invariants.push_back(
      {"liveness", results::Verdict::unknown("could not look up 3 users")});
  unknown.repro_command = "orgquake repro reports/out/run-1 --trial 2";

  run.trials = {valid, invalid, unknown};
  return run;
}

std::size_t count_of(std::string_view text, std::string_view needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string_view::npos;
       at = text.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

bool valid_utf8(std::string_view text) {
  for (std::size_t i = 0; i < text.size();) {
    const auto lead = static_cast<unsigned char>(text[i]);
    const std::size_t length = lead < 0x80           ? 1
                               : (lead >> 5) == 0x6  ? 2
                               : (lead >> 4) == 0xE  ? 3
                               : (lead >> 3) == 0x1E ? 4
                                                     : 0;
    if (length == 0 || i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      if ((static_cast<unsigned char>(text[i + k]) & 0xC0) != 0x80) return false;
    }
    i += length;
  }
  return true;
}

// ---------------------------------------------------------------------------
// A strict little XML reader: enough to prove junit.xml well-formed (nesting,
// quoting, entities, no characters XML 1.0 forbids) and to query it.

struct XmlElement {
  std::string name;
  std::map<std::string, std::string> attributes;
  std::vector<XmlElement> children;
  std::string text;

  std::vector<const XmlElement*> all(std::string_view child) const {
    std::vector<const XmlElement*> found;
    for (const auto& c : children) {
      if (c.name == child) found.push_back(&c);
    }
    return found;
  }
  const XmlElement& only(std::string_view child) const {
    const auto found = all(child);
    if (found.size() != 1) {
      throw std::runtime_error("expected one <" + std::string(child) + "> in <" + name + ">");
    }
    return *found.front();
  }
};

class XmlReader {
 public:
  explicit XmlReader(std::string_view text) : s_(text) {}

  XmlElement document() {
    if (!valid_utf8(s_)) fail("not UTF-8");
    if (s_.substr(0, 5) == "<?xml") {
      i_ = s_.find("?>");
      if (i_ == std::string_view::npos) fail("unterminated declaration");
      i_ += 2;
    }
    skip_space();
    XmlElement root = element();
    skip_space();
    if (i_ != s_.size()) fail("content after the root element");
    return root;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::runtime_error("XML: " + why + " at byte " + std::to_string(i_));
  }
  bool at(std::string_view token) const { return s_.substr(i_, token.size()) == token; }
  void expect(char c) {
    if (i_ >= s_.size() || s_[i_] != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  void skip_space() {
    while (i_ < s_.size() && std::string_view(" \t\r\n").find(s_[i_]) != std::string_view::npos)
      ++i_;
  }
  std::string name() {
    const std::size_t start = i_;
    while (i_ < s_.size() && (std::isalnum(static_cast<unsigned char>(s_[i_])) ||
                              std::string_view("_-.:").find(s_[i_]) != std::string_view::npos))
      ++i_;
    if (i_ == start) fail("expected a name");
    return std::string(s_.substr(start, i_ - start));
  }
  void character(std::string& out) {
    const auto c = static_cast<unsigned char>(s_[i_]);
    if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') fail("control character");
    if (c == '&') {
      const std::size_t end = s_.find(';', i_);
      if (end == std::string_view::npos || end - i_ > 10) fail("bad entity");
      const std::string_view entity = s_.substr(i_ + 1, end - i_ - 1);
      static const std::map<std::string_view, std::string> named = {
          {"amp", "&"}, {"lt", "<"}, {"gt", ">"}, {"quot", "\""}, {"apos", "'"}};
      if (const auto it = named.find(entity); it != named.end()) {
        out += it->second;
      } else if (entity.size() > 1 && entity[0] == '#') {
        const bool hex = entity[1] == 'x';
        const long code =
            std::stol(std::string(entity.substr(hex ? 2 : 1)), nullptr, hex ? 16 : 10);
        if (code < 0x20 && code != '\t' && code != '\n' && code != '\r') fail("control reference");
        if (code >= 0x80) fail("test reader handles ASCII references only");
        out += static_cast<char>(code);
      } else {
        fail("unknown entity &" + std::string(entity) + ";");
      }
      i_ = end + 1;
      return;
    }
    out += s_[i_++];
  }
  XmlElement element() {
    XmlElement e;
    expect('<');
    e.name = name();
    for (;;) {
      skip_space();
      if (at("/>")) {
        i_ += 2;
        return e;
      }
      if (at(">")) {
        ++i_;
        break;
      }
      const std::string attribute = name();
      skip_space();
      expect('=');
      skip_space();
      expect('"');
      std::string value;
      while (i_ < s_.size() && s_[i_] != '"') {
        if (s_[i_] == '<') fail("'<' in an attribute value");
        character(value);
      }
      expect('"');
      if (!e.attributes.emplace(attribute, value).second) fail("duplicate attribute " + attribute);
    }
    for (;;) {
      if (i_ >= s_.size()) fail("unclosed <" + e.name + ">");
      if (at("</")) {
        i_ += 2;
        if (name() != e.name) fail("mismatched end tag of <" + e.name + ">");
        skip_space();
        expect('>');
        return e;
      }
      if (at("<")) {
        e.children.push_back(element());
      } else {
        if (at("]]>")) fail("']]>' in text");
        character(e.text);
      }
    }
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// A fresh directory under the build tree, removed afterwards.
struct ScratchDirectory {
  std::filesystem::path path;
  ScratchDirectory() {
    path = std::filesystem::path(ORGQUAKE_BINARY_DIR) / "test-scratch" /
           ("reports-" + std::to_string(::getpid()));
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~ScratchDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
  }
};

// The JSON embedded in report.html for the page's script.
json embedded_timelines(const std::string& page) {
  const std::string open = "<script type=\"application/json\" id=\"orgquake-timelines\">";
  const auto start = page.find(open);
  BOOST_REQUIRE(start != std::string::npos);
  const auto end = page.find("</script>", start);
  BOOST_REQUIRE(end != std::string::npos);
  return json::parse(page.substr(start + open.size(), end - start - open.size()));
}

}  // namespace

BOOST_AUTO_TEST_SUITE(results_json_file)

BOOST_AUTO_TEST_CASE(has_every_contract_key_with_the_run_values) {
  const auto run = sample_run();
  // Through text and back, as a tool reading the file would see it.
  const json results = json::parse(reports::dump_report_json(reports::results_json(run), 2));

  for (const char* key : {"seed", "suite", "migrator", "users", "verdict", "duration_s", "git_sha",
                          "started_at", "spec", "trials"}) {
    BOOST_TEST_CONTEXT("key " << key) {
      BOOST_TEST(results.contains(key));
    }
  }
  BOOST_TEST(results["seed"].is_number_unsigned());
  BOOST_TEST(results["seed"].get<std::uint64_t>() == max_seed);
  BOOST_TEST(results["suite"] == "ci");
  BOOST_TEST(results["migrator"] == "reference");
  BOOST_TEST(results["users"] == 40);
  BOOST_TEST(results["verdict"] == "invalid");
  BOOST_TEST(results["duration_s"].get<double>() == 12.5);
  BOOST_TEST(results["git_sha"] == "0123abcd");
  BOOST_TEST(results["started_at"] == "2026-01-02T03:04:05Z");
  BOOST_TEST(results["spec"] == run.spec);
  BOOST_REQUIRE(results["trials"].size() == 3u);

  const json& valid = results["trials"][0];
  for (const char* key : {"index", "scenario", "seed", "verdict", "invariants", "stats",
                          "fault_plan", "failpoint_order", "options", "duration_s", "repro"}) {
    BOOST_TEST_CONTEXT("trial key " << key) {
      BOOST_TEST(valid.contains(key));
    }
  }
  BOOST_TEST(!valid.contains("error"));
  BOOST_TEST(valid["index"] == 0);
  BOOST_TEST(valid["scenario"] == "concurrent_duplicate_lookups");
  BOOST_TEST(valid["seed"].get<std::uint64_t>() == max_seed);
  BOOST_TEST(valid["verdict"] == "valid");
  BOOST_TEST(valid["stats"] == run.trials[0].stats.to_json());
  for (const char* key : {"max_concurrent_lookups", "lock_waits", "crashes", "pauses"}) {
    BOOST_TEST_CONTEXT("stats key " << key) {
      BOOST_TEST(valid["stats"].contains(key));
    }
  }
  BOOST_TEST(valid["stats"]["max_concurrent_lookups"] == 3);
  BOOST_TEST(valid["fault_plan"] == run.trials[0].fault_plan);
  BOOST_TEST(valid["failpoint_order"] == json::array({"w1.c0 lock.after_acquire -> proceed"}));
  BOOST_TEST(valid["options"] == run.trials[0].options);
  BOOST_TEST(valid["duration_s"].get<double>() == 1.25);
  BOOST_TEST(valid["repro"] == "orgquake repro reports/out/run-1 --trial 0");
  BOOST_TEST(!valid.contains("history"));

  const json& invalid = results["trials"][1];
  BOOST_TEST(invalid["verdict"] == "invalid");
  BOOST_REQUIRE(invalid["invariants"].size() == 2u);
  const json& broken = invalid["invariants"][0];
  BOOST_TEST(broken["name"] == "one_personal_org");
  BOOST_TEST(broken["verdict"] == "invalid");
  BOOST_TEST(broken["summary"] == "one personal org: 2 violations; first: " + hostile);
  BOOST_REQUIRE(broken["evidence"].size() == 2u);
  BOOST_TEST(broken["evidence"][0]["symptom"] == "several_personal_orgs");
  BOOST_TEST(broken["evidence"][0]["what"] == "user u1 owns 2 personal orgs " + hostile);
  BOOST_TEST(broken["evidence"][1]["symptom"] == "");
  BOOST_TEST(broken["evidence"][0]["data"]["rows"][0] == hostile);
  BOOST_TEST(invalid["invariants"][1]["verdict"] == "valid");

  const json& unknown = results["trials"][2];
  BOOST_TEST(unknown["verdict"] == "unknown");
  BOOST_TEST(unknown["error"] == "postgres died: </script> & gone");
  BOOST_TEST(unknown["invariants"][0]["verdict"] == "unknown");
}

// The symptom codes survive results.json: written, read back by
// Verdict::from_json, equal to the run's; a file older than the codes (no
// "symptom") reads with empty ones.
BOOST_AUTO_TEST_CASE(evidence_symptoms_round_trip_through_the_file) {
  const auto run = sample_run();
  const json results = json::parse(reports::dump_report_json(reports::results_json(run), 2));
  for (std::size_t t = 0; t < run.trials.size(); ++t) {
    const auto& trial = run.trials[t];
    BOOST_REQUIRE(results["trials"][t]["invariants"].size() == trial.invariants.size());
    for (std::size_t i = 0; i < trial.invariants.size(); ++i) {
      const auto& original = trial.invariants[i].verdict;
      const auto back = results::Verdict::from_json(results["trials"][t]["invariants"][i]);
      BOOST_TEST_CONTEXT("trial " << t << ", invariant " << trial.invariants[i].name) {
        BOOST_TEST((back.validity == original.validity));
        BOOST_TEST(back.summary == original.summary);
        BOOST_REQUIRE(back.evidence.size() == original.evidence.size());
        for (std::size_t e = 0; e < back.evidence.size(); ++e) {
          BOOST_TEST(back.evidence[e].symptom == original.evidence[e].symptom);
          BOOST_TEST(back.evidence[e].what == original.evidence[e].what);
          BOOST_TEST(back.evidence[e].data == original.evidence[e].data);
        }
      }
    }
  }
  const auto read = results::Verdict::from_json(results["trials"][1]["invariants"][0]);
  BOOST_REQUIRE(read.evidence.size() == 2u);
  BOOST_TEST(read.evidence[0].symptom == "several_personal_orgs");

  json old = results["trials"][1]["invariants"][0];
  for (auto& e : old["evidence"]) e.erase("symptom");
  old["evidence"][1].erase("data");
  const auto legacy = results::Verdict::from_json(old);
  BOOST_REQUIRE(legacy.evidence.size() == 2u);
  BOOST_TEST(legacy.evidence[0].symptom == "");
  BOOST_TEST(legacy.evidence[0].what == "user u1 owns 2 personal orgs " + hostile);
  BOOST_TEST(legacy.evidence[1].data.is_null());
  BOOST_CHECK_THROW(results::Verdict::from_json(json{{"verdict", "maybe"}}), std::invalid_argument);
}

// A class is named where some invalid evidence carries a code of its
// signature, and only there: the valid trial's invariants and other codes
// name nothing, and a shared code names every class that lists it.
BOOST_AUTO_TEST_CASE(findings_name_the_known_classes_whose_signature_they_meet) {
  auto run = sample_run();
  const std::vector<results::KnownBugSignature> catalog = {
      {"two_orgs", {"one_personal_org/several_personal_orgs"}},
      {"also_two_orgs",
       {"no_double_billing/duplicate_billing_rows", "one_personal_org/several_personal_orgs"}},
      {"other_rule", {"no_double_billing/several_personal_orgs"}},
      {"valid_only", {"same_org_per_lookup/different_orgs_served"}},
  };
  const auto matches = results::match_known_bugs(run, catalog);
  BOOST_REQUIRE(matches.size() == 2u);
  BOOST_TEST(matches[0].name == "two_orgs");
  BOOST_TEST(matches[1].name == "also_two_orgs");
  for (const auto& match : matches) {
    BOOST_TEST(match.trials == 1);
    BOOST_TEST(match.first_repro == "orgquake repro reports/out/run-1 --trial 1");
    BOOST_TEST(match.symptoms_seen ==
               std::vector<std::string>{"one_personal_org/several_personal_orgs"});
    BOOST_TEST(match.first_evidence == "user u1 owns 2 personal orgs " + hostile);
  }
  // The same evidence under a verdict that is not invalid names nothing.
  for (auto& trial : run.trials)
    for (auto& invariant : trial.invariants) invariant.verdict.validity = Validity::unknown;
  BOOST_TEST(results::match_known_bugs(run, catalog).empty());
}

BOOST_AUTO_TEST_CASE(how_clients_reached_postgres_is_kept_and_shards_must_agree_on_it) {
  auto run = sample_run();
  BOOST_TEST(json::parse(reports::dump_report_json(reports::results_json(run)))["session_pool"] ==
             true);
  run.session_pool = false;
  const json results = json::parse(reports::dump_report_json(reports::results_json(run)));
  BOOST_TEST(results["session_pool"] == false);
  BOOST_TEST(!results::run_from_json(results).session_pool);

  auto first = sample_run();
  first.trials.clear();
  first.shard = results::Shard{1, 2};
  auto second = first;
  second.shard = results::Shard{2, 2};
  second.session_pool = false;
  BOOST_CHECK_EXCEPTION(results::merge_shards({{"shard-1", first}, {"shard-2", second}}),
                        UsageError, [](const UsageError& e) {
                          return std::string(e.what()).find("how clients reached PostgreSQL") !=
                                 std::string::npos;
                        });
  first.session_pool = false;
  BOOST_TEST(!results::merge_shards({{"shard-1", first}, {"shard-2", second}}).session_pool);
}

BOOST_AUTO_TEST_CASE(the_largest_seed_is_written_as_its_exact_digits) {
  const std::string text = reports::dump_report_json(reports::results_json(sample_run()));
  BOOST_TEST(text.find("\"seed\":18446744073709551615") != std::string::npos);
  BOOST_TEST(text.find("e+19") == std::string::npos);
}

BOOST_AUTO_TEST_CASE(invalid_utf8_in_a_message_does_not_fail_the_report) {
  auto run = sample_run();
  run.trials[2].error = "bytes \xff\xfe from a server";
  const std::string text = reports::dump_report_json(reports::results_json(run));
  BOOST_TEST(valid_utf8(text));
  BOOST_TEST(json::parse(text)["trials"][2]["error"] ==
             "bytes \xEF\xBF\xBD\xEF\xBF\xBD"
             " from a server");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(junit_xml_file)

BOOST_AUTO_TEST_CASE(counts_failures_and_errors_per_scenario) {
  const auto run = sample_run();
  const XmlElement root = XmlReader(reports::junit_xml(run)).document();
  BOOST_TEST(root.name == "testsuites");
  BOOST_TEST(root.attributes.at("name") == "orgquake.ci");
  BOOST_TEST(root.attributes.at("tests") == "3");
  BOOST_TEST(root.attributes.at("failures") == "1");
  BOOST_TEST(root.attributes.at("errors") == "1");

  const auto suites = root.all("testsuite");
  BOOST_REQUIRE(suites.size() == 2u);
  const XmlElement& duplicates = *suites[0];
  BOOST_TEST(duplicates.attributes.at("name") == "orgquake.ci.concurrent_duplicate_lookups");
  BOOST_TEST(duplicates.attributes.at("tests") == "2");
  BOOST_TEST(duplicates.attributes.at("failures") == "0");
  BOOST_TEST(duplicates.attributes.at("errors") == "1");
  BOOST_TEST(duplicates.attributes.at("time") == "1.250");
  const XmlElement& pause = *suites[1];
  BOOST_TEST(pause.attributes.at("name") == "orgquake.ci.lock_holder_pause");
  BOOST_TEST(pause.attributes.at("tests") == "1");
  BOOST_TEST(pause.attributes.at("failures") == "1");
  BOOST_TEST(pause.attributes.at("errors") == "0");

  const auto cases = duplicates.all("testcase");
  BOOST_REQUIRE(cases.size() == 2u);
  BOOST_TEST(cases[0]->attributes.at("classname") == "orgquake.concurrent_duplicate_lookups");
  BOOST_TEST(cases[0]->attributes.at("name") == "seed 18446744073709551615");
  BOOST_TEST(cases[0]->attributes.at("time") == "1.250");
  BOOST_TEST(cases[0]->all("failure").empty());
  BOOST_TEST(cases[0]->all("error").empty());
  BOOST_TEST(cases[1]->attributes.at("name") == "seed 7");

  const XmlElement& error = cases[1]->only("error");
  BOOST_TEST(error.attributes.at("type") == "unknown");
  BOOST_TEST(error.text.find("postgres died: </script> & gone") != std::string::npos);
  BOOST_TEST(error.text.find("could not look up 3 users") != std::string::npos);
  BOOST_TEST(error.text.find("orgquake repro reports/out/run-1 --trial 2") != std::string::npos);
  BOOST_TEST(cases[1]->all("failure").empty());
}

BOOST_AUTO_TEST_CASE(a_failure_lists_summaries_evidence_and_repro) {
  const XmlElement root = XmlReader(reports::junit_xml(sample_run())).document();
  const XmlElement& testcase = root.all("testsuite")[1]->only("testcase");
  BOOST_TEST(testcase.all("error").empty());
  const XmlElement& failure = testcase.only("failure");
  BOOST_TEST(failure.attributes.at("type") == "invalid");
  const std::string& message = failure.attributes.at("message");
  BOOST_TEST(message.find("one_personal_org") != std::string::npos);
  BOOST_TEST(message.find('\n') == std::string::npos);
  const std::string& text = failure.text;
  BOOST_TEST(text.find("one personal org: 2 violations; first: " + hostile) != std::string::npos);
  BOOST_TEST(text.find("  - user u1 owns 2 personal orgs " + hostile) != std::string::npos);
  // Control characters are dropped, the rest of the line kept.
  BOOST_TEST(text.find("  - user u2 owns 2 personal orgs  bell") != std::string::npos);
  BOOST_TEST(text.find("repro: orgquake repro reports/out/run-1 --trial 1") != std::string::npos);
  // The valid invariant of the same trial is not part of the failure.
  BOOST_TEST(text.find("no_double_billing") == std::string::npos);
  BOOST_TEST(testcase.only("system-out").text.find("repro: ") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(stays_well_formed_whatever_the_text) {
  auto run = sample_run();
  run.suite = "a\"b<c>&'d";
  // A string literal would stop at the NUL.
  static constexpr char with_nul[] = "nul \x00 esc \x1b del \x7f bad \xff utf8 ]]> end";
  run.trials[2].error = std::string(with_nul, sizeof with_nul - 1);
  const std::string xml = reports::junit_xml(run);
  BOOST_TEST(valid_utf8(xml));
  const XmlElement root = XmlReader(xml).document();
  BOOST_TEST(root.attributes.at("name") == "orgquake.a\"b<c>&'d");
  const std::string& text = root.all("testsuite")[0]->all("testcase")[1]->only("error").text;
  BOOST_TEST(text.find("esc  del  bad \xEF\xBF\xBD utf8 ]]> end") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_run_without_trials_is_an_empty_testsuites) {
  results::RunResult run;
  run.suite = "smoke";
  const XmlElement root = XmlReader(reports::junit_xml(run)).document();
  BOOST_TEST(root.attributes.at("tests") == "0");
  BOOST_TEST(root.children.empty());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(history_jsonl_file)

// The line is written field by field for speed; it must be the very text a
// dump of the event's JSON gives, escapes and all, so that a history file
// does not depend on which path wrote it.
BOOST_AUTO_TEST_CASE(a_line_is_the_dump_of_the_event_s_json) {
  const auto reference = [](const history::Event& event, int trial, const std::string& scenario) {
    json line = event.to_json();
    line["trial"] = trial;
    line["scenario"] = scenario;
    return reports::dump_report_json(line);
  };
  std::vector<history::Event> events;
  for (const auto& trial : sample_run().trials) {
    for (const auto& event : trial.history.events()) events.push_back(event);
  }
  history::Event odd;
  odd.type = history::EventType::fail;
  odd.time_ns = -5;
  odd.worker = history::controller;
  odd.client = 0;
  odd.op = 0;
  odd.kind = "quote\" back\\slash\ttab\x01";
  odd.user = "caf\xc3\xa9 \xff broken";
  odd.phase = "run";
  odd.value = {{"message", "line\nbreak"}, {"n", 1.5}, {"list", {1, "two", nullptr}}};
  events.push_back(odd);
  history::Event bare;
  bare.type = history::EventType::phase;
  events.push_back(bare);
  for (const auto& event : events) {
    for (const std::string scenario : {"redis_outage", "odd \"name\""}) {
      BOOST_TEST(reports::history_jsonl_line(event, 7, scenario) == reference(event, 7, scenario));
    }
  }
}

BOOST_AUTO_TEST_CASE(one_line_per_event_in_trial_then_time_order) {
  const auto run = sample_run();
  std::ostringstream out;
  reports::write_history_jsonl(run, out);
  std::istringstream lines(out.str());

  std::size_t expected = 0;
  for (const auto& trial : run.trials) expected += trial.history.events().size();
  BOOST_REQUIRE(expected == 17u);

  std::vector<json> parsed;
  for (std::string line; std::getline(lines, line);) {
    BOOST_TEST_CONTEXT("line " << parsed.size() + 1) {
      BOOST_REQUIRE(!line.empty());
      BOOST_REQUIRE_NO_THROW(parsed.push_back(json::parse(line)));
    }
  }
  BOOST_REQUIRE(parsed.size() == expected);
  BOOST_TEST(out.str().back() == '\n');

  std::map<int, int> per_trial;
  for (std::size_t i = 0; i < parsed.size(); ++i) {
    const json& line = parsed[i];
    const int trial = line.at("trial").get<int>();
    ++per_trial[trial];
    BOOST_TEST(line.at("scenario") == run.trials[static_cast<std::size_t>(trial)].scenario);
    BOOST_TEST(history::event_type_from(line.at("type").get<std::string>()).has_value());
    if (i > 0) {
      const json& before = parsed[i - 1];
      BOOST_TEST(before["trial"].get<int>() <= trial);
      if (before["trial"].get<int>() == trial) {
        BOOST_TEST(before["time_ns"].get<std::int64_t>() <= line["time_ns"].get<std::int64_t>());
      }
    }
    // Everything else is the event as Event::to_json writes it.
    json event = line;
    event.erase("trial");
    event.erase("scenario");
    BOOST_TEST(history::Event::from_json(event).to_json() == event);
  }
  BOOST_TEST(per_trial[0] == 15);
  BOOST_TEST(per_trial[1] == 2);
  BOOST_TEST(per_trial.count(2) == 0u);
  // Trial 1 was recorded out of order: its invoke still comes first.
  BOOST_TEST(parsed[15]["type"] == "invoke");
  BOOST_TEST(parsed[16]["value"]["message"] == hostile);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(report_html_file)

BOOST_AUTO_TEST_CASE(refers_to_nothing_outside_the_file) {
  const std::string page = reports::report_html(sample_run());
  for (const char* forbidden :
       {"http://", "https://", "src=", "url(", "@import", "<link", "<img", "<iframe", "//cdn"}) {
    BOOST_TEST_CONTEXT("forbidden " << forbidden) {
      BOOST_TEST(page.find(forbidden) == std::string::npos);
    }
  }
  BOOST_TEST(page.find("Content-Security-Policy") != std::string::npos);
  BOOST_TEST(page.find("default-src 'none'") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(shows_the_run_every_scenario_and_verdict) {
  const std::string page = reports::report_html(sample_run());
  BOOST_TEST(page.rfind("<!DOCTYPE html>", 0) == 0u);
  BOOST_TEST(valid_utf8(page));
  for (const char* text :
       {"concurrent_duplicate_lookups", "lock_holder_pause", "reference", "0123abcd",
        "2026-01-02T03:04:05Z", "18446744073709551615", "v-valid\">valid", "v-invalid\">invalid",
        "v-unknown\">unknown", "orgquake repro reports/out/run-1 --trial 1", "one_personal_org",
        "no_double_billing", "id=\"timeline-0\"", "id=\"trial-2\"",
        "postgres died: &lt;/script&gt; &amp; gone", "<svg class=\"histogram\"", "Zürich ✓ 日本"}) {
    BOOST_TEST_CONTEXT("text " << text) {
      BOOST_TEST(page.find(text) != std::string::npos);
    }
  }
}

BOOST_AUTO_TEST_CASE(tags_evidence_with_its_symptom_code) {
  const std::string page = reports::report_html(sample_run());
  BOOST_TEST(page.find("<div class=\"what\"><code class=\"symptom\">several_personal_orgs</code> "
                       "user u1 owns 2 personal orgs ") != std::string::npos);
  // Evidence without a code has no empty tag.
  BOOST_TEST(count_of(page, "<code class=\"symptom\">") == 1u);
  BOOST_TEST(page.find("<div class=\"what\">user u2 owns 2 personal orgs") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(escapes_every_text_from_the_run) {
  const std::string page = reports::report_html(sample_run());
  BOOST_TEST(page.find("</script><b>") == std::string::npos);
  BOOST_TEST(page.find("<b>") == std::string::npos);
  BOOST_TEST(page.find(hostile_html) != std::string::npos);
  BOOST_TEST(page.find("&quot;quoted&quot; &#39;single&#39;") != std::string::npos);
  // The two script elements of the page, and no element that data opened.
  BOOST_TEST(count_of(page, "<script") == 2u);
  BOOST_TEST(count_of(page, "</script>") == 2u);
  BOOST_TEST(count_of(page, "<!--") == 0u);
}

BOOST_AUTO_TEST_CASE(embeds_each_timeline_as_parseable_json) {
  const std::string page = reports::report_html(sample_run());
  const json timelines = embedded_timelines(page);
  // Trial 2 has no history, so no timeline.
  BOOST_REQUIRE(timelines.size() == 2u);
  const json& first = timelines[0];
  BOOST_TEST(first["trial"] == 0);
  BOOST_TEST(first["end"] == 8'000'000);
  // Rows: the controller, then w0's clients, then w1 itself (the fault aimed
  // at it) and its client.
  BOOST_TEST(first["rows"] ==
             json::parse(R"([["controller",-1],["w0.c0",0],["w0.c1",0],["w1",1],["w1.c0",1]])"));
  const json& ops = first["ops"];
  BOOST_REQUIRE(ops.size() == 4u);
  std::multiset<int> statuses;
  for (const auto& op : ops) statuses.insert(op[3].get<int>());
  BOOST_TEST((statuses == std::multiset<int>{0, 1, 2, 3}));
  // The ok lookup: row w0.c0, invoke to completion.
  BOOST_TEST(ops[0] ==
             json::parse(R"([1,1000,3400000,0,1,"lookup","u1","run","{\"verified\":true}"])"));
  // The one that never completed runs to the end of the trial.
  BOOST_TEST(ops[3][2] == 8'000'000);
  BOOST_TEST(first["faults"].size() == 3u);
  BOOST_TEST(first["faults"][0][0] == 3);  // in w1's row
  BOOST_TEST(first["faults"][2][0] == 0);  // heal: the controller's row
  BOOST_TEST(first["failpoints"].size() == 2u);
  BOOST_TEST(first["failpoints"][0][6] == 1);  // gated: acted
  BOOST_TEST(first["failpoints"][1][6] == 0);  // off: only observed
  BOOST_TEST(first["phases"].size() == 3u);
  // Paused from the pause until the crash, over w1's rows.
  BOOST_TEST(first["pauses"] == json::parse("[[3,4,3500000,5000000]]"));
  // Hostile text survives the escaping intact.
  BOOST_TEST(timelines[1]["ops"][0][8] == "Injected: " + hostile);
}

BOOST_AUTO_TEST_CASE(a_large_history_stays_compact) {
  auto run = sample_run();
  auto& trial = run.trials[0];
  trial.history = history::History();
  for (int i = 0; i < 25'000; ++i) {
    trial.history.add(event(EventType::invoke, i * 1'000LL, i % 4, i % 8, i, "lookup"));
    trial.history.add(event(EventType::ok, i * 1'000LL + 500 + i % 300, i % 4, i % 8, i, "lookup",
                            {{"verified", true}}));
  }
  trial.history.finish();
  const std::string page = reports::report_html(run);
  // No element per event: the page grows by the embedded JSON only.
  BOOST_TEST(count_of(page, "<rect") < 100u);
  BOOST_TEST(page.size() < 8'000'000u);
  BOOST_TEST(embedded_timelines(page)[0]["ops"].size() == 25'000u);
  BOOST_TEST(page.find("25000 lookups ok") != std::string::npos);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(run_reports)

BOOST_AUTO_TEST_CASE(writes_exactly_the_four_files) {
  ScratchDirectory scratch;
  const auto run = sample_run();
  const auto dir = scratch.path / "nested" / "run-1";
  // Twice: the second run replaces the first's files and leaves nothing else.
  reports::write_run_reports(run, dir);
  const reports::ReportFiles files = reports::write_run_reports(run, dir);

  std::set<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    names.insert(entry.path().filename().string());
  }
  BOOST_TEST((names ==
              std::set<std::string>{"results.json", "junit.xml", "history.jsonl", "report.html"}));
  BOOST_TEST(files.results_json == dir / "results.json");
  BOOST_TEST(files.junit_xml == dir / "junit.xml");
  BOOST_TEST(files.history_jsonl == dir / "history.jsonl");
  BOOST_TEST(files.report_html == dir / "report.html");

  BOOST_TEST(json::parse(read_file(files.results_json)) == reports::results_json(run));
  BOOST_TEST(read_file(files.junit_xml) == reports::junit_xml(run));
  BOOST_TEST(read_file(files.report_html) == reports::report_html(run));
  std::ostringstream history;
  reports::write_history_jsonl(run, history);
  BOOST_TEST(read_file(files.history_jsonl) == history.str());
  const auto permissions = std::filesystem::status(files.report_html).permissions();
  BOOST_TEST(((permissions & std::filesystem::perms::others_read) != std::filesystem::perms::none));
}

BOOST_AUTO_TEST_CASE(fails_clearly_when_the_directory_cannot_exist) {
  ScratchDirectory scratch;
  const auto blocker = scratch.path / "a-file";
  std::ofstream(blocker) << "not a directory";
  const auto dir = blocker / "run-1";
  BOOST_CHECK_EXCEPTION(reports::write_run_reports(sample_run(), dir), EnvironmentError,
                        [&](const EnvironmentError& e) {
                          const std::string what = e.what();
                          BOOST_TEST_MESSAGE(what);
                          return what.find(dir.string()) != std::string::npos &&
                                 what.find("Not a directory") != std::string::npos;
                        });
  BOOST_TEST(read_file(blocker) == "not a directory");
}

BOOST_AUTO_TEST_SUITE_END()
