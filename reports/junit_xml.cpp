#include "reports/junit_xml.hpp"

#include <cmath>
#include <map>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "reports/results_json.hpp"

namespace orgquake::reports {
namespace {

using results::Validity;

/// Evidence lines per invariant in a failure's text: enough to see the
/// pattern; results.json and report.html keep all of them.
constexpr std::size_t max_evidence_lines = 50;
/// CI pages show the message attribute on one line.
constexpr std::size_t max_message_chars = 500;

// The code point starting at text[at] and its length in bytes; not valid
// (length 1) for a byte that does not start a well-formed UTF-8 sequence
// (overlong forms and surrogates included).
struct Decoded {
  char32_t code_point;
  std::size_t length;
  bool valid;
};

Decoded decode_utf8(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return {lead, 1, true};
  std::size_t length;
  char32_t code_point;
  char32_t minimum;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, code_point = lead & 0x1F, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, code_point = lead & 0x0F, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, code_point = lead & 0x07, minimum = 0x10000;
  } else {
    return {0, 1, false};
  }
  if (at + length > text.size()) return {0, 1, false};
  for (std::size_t i = 1; i < length; ++i) {
    if ((byte(at + i) & 0xC0) != 0x80) return {0, 1, false};
    code_point = (code_point << 6) | (byte(at + i) & 0x3F);
  }
  if (code_point < minimum || code_point > 0x10FFFF ||
      (code_point >= 0xD800 && code_point <= 0xDFFF)) {
    return {0, 1, false};
  }
  return {code_point, length, true};
}

// Escapes text for an XML attribute value or element content (where quotes
// stay as they are, for a readable CI page). Characters
// that XML 1.0 forbids (or that consumers choke on: C1 controls, DEL) are
// dropped; invalid UTF-8 becomes U+FFFD. In an attribute, tab and newlines
// become character references, since attribute normalization would turn
// them into spaces.
std::string xml_escape(std::string_view text, bool attribute = false) {
  std::string out;
  out.reserve(text.size() + text.size() / 8);
  for (std::size_t at = 0; at < text.size();) {
    const Decoded decoded = decode_utf8(text, at);
    if (!decoded.valid) {
      out += "\xEF\xBF\xBD";
      at += 1;
      continue;
    }
    const char32_t c = decoded.code_point;
    const std::string_view raw = text.substr(at, decoded.length);
    at += decoded.length;
    switch (c) {
      case '&':
        out += "&amp;";
        continue;
      case '<':
        out += "&lt;";
        continue;
      case '>':
        out += "&gt;";
        continue;
      case '"':
        out += attribute ? "&quot;" : "\"";
        continue;
      case '\'':
        out += attribute ? "&apos;" : "'";
        continue;
      case '\t':
        out += attribute ? "&#9;" : "\t";
        continue;
      case '\n':
        out += attribute ? "&#10;" : "\n";
        continue;
      case '\r':
        out += attribute ? "&#13;" : "\r";
        continue;
      default:
        break;
    }
    const bool control = c < 0x20 || (c >= 0x7F && c <= 0x9F);
    const bool non_character = c == 0xFFFE || c == 0xFFFF;
    if (!control && !non_character) out += raw;
  }
  return out;
}

std::string seconds(double value) {
  return fmt::format("{:.3f}", std::isfinite(value) && value > 0 ? value : 0.0);
}

std::string one_line(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r' || c == '\t') c = ' ';
  }
  if (text.size() > max_message_chars) {
    // Cut at a character boundary, not inside a UTF-8 sequence.
    std::size_t cut = max_message_chars;
    while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
    text = text.substr(0, cut) + "...";
  }
  return text;
}

// What went wrong in a trial judged `level` (invalid or unknown): the message
// attribute (one line) and the text (everything a person needs to start).
struct Problem {
  std::string message;
  std::string text;
};

Problem describe_problem(const results::TrialResult& trial, Validity level) {
  Problem problem;
  std::vector<const results::InvariantResult*> culprits;
  for (const auto& invariant : trial.invariants) {
    if (invariant.verdict.validity == level) culprits.push_back(&invariant);
  }
  if (!trial.error.empty()) problem.text += fmt::format("harness error: {}\n", trial.error);
  for (const auto* invariant : culprits) {
    const auto& verdict = invariant->verdict;
    problem.text +=
        fmt::format("{} ({}): {}\n", invariant->name, results::name_of(level), verdict.summary);
    const std::size_t shown = std::min(verdict.evidence.size(), max_evidence_lines);
    for (std::size_t i = 0; i < shown; ++i) {
      problem.text += fmt::format("  - {}\n", verdict.evidence[i].what);
    }
    if (verdict.evidence.size() > shown) {
      problem.text += fmt::format("  ... and {} more (results.json has them all)\n",
                                  verdict.evidence.size() - shown);
    }
  }
  if (!trial.repro_command.empty()) problem.text += fmt::format("repro: {}\n", trial.repro_command);

  if (culprits.size() == 1) {
    problem.message = fmt::format("{}: {}", culprits[0]->name, culprits[0]->verdict.summary);
  } else if (culprits.size() > 1) {
    std::string names;
    for (const auto* invariant : culprits) {
      names += fmt::format("{}{}", names.empty() ? "" : ", ", invariant->name);
    }
    problem.message =
        fmt::format("{} invariants {}: {}", culprits.size(), results::name_of(level), names);
  } else if (!trial.error.empty()) {
    problem.message = trial.error;
  } else {
    problem.message = fmt::format("trial verdict {}", results::name_of(level));
  }
  if (!trial.error.empty() && !culprits.empty()) {
    problem.message += fmt::format(" (harness error: {})", trial.error);
  }
  problem.message = one_line(std::move(problem.message));
  return problem;
}

std::string system_out(const results::TrialResult& trial) {
  std::string text = fmt::format("trial {} of scenario {}, seed {}, {}\n", trial.index,
                                 trial.scenario, trial.seed, results::name_of(trial.verdict));
  text += fmt::format("stats: {}\n", dump_report_json(trial.stats.to_json()));
  for (const auto& invariant : trial.invariants) {
    text += fmt::format("{}: {}: {}\n", invariant.name,
                        results::name_of(invariant.verdict.validity), invariant.verdict.summary);
  }
  if (!trial.failpoint_order.empty()) {
    text += "failpoint order:\n";
    for (const auto& step : trial.failpoint_order) text += fmt::format("  {}\n", step);
  }
  if (!trial.repro_command.empty()) text += fmt::format("repro: {}\n", trial.repro_command);
  return text;
}

void append_testcase(std::string& out, const results::TrialResult& trial) {
  out += fmt::format("    <testcase classname=\"orgquake.{}\" name=\"seed {}\" time=\"{}\">\n",
                     xml_escape(trial.scenario, true), trial.seed, seconds(trial.duration_s));
  if (trial.verdict != Validity::valid) {
    const bool invalid = trial.verdict == Validity::invalid;
    const Problem problem = describe_problem(trial, trial.verdict);
    const char* element = invalid ? "failure" : "error";
    out += fmt::format("      <{} message=\"{}\" type=\"{}\">{}</{}>\n", element,
                       xml_escape(problem.message, true), results::name_of(trial.verdict),
                       xml_escape(problem.text), element);
  }
  out += fmt::format("      <system-out>{}</system-out>\n", xml_escape(system_out(trial)));
  out += "    </testcase>\n";
}

struct Counts {
  int tests = 0, failures = 0, errors = 0;
  double time = 0;

  void add(const results::TrialResult& trial) {
    ++tests;
    if (trial.verdict == Validity::invalid) ++failures;
    if (trial.verdict == Validity::unknown) ++errors;
    if (std::isfinite(trial.duration_s) && trial.duration_s > 0) time += trial.duration_s;
  }
};

}  // namespace

std::string junit_xml(const results::RunResult& run) {
  // Scenarios in the order they first ran, each with its trials.
  std::vector<std::string> scenarios;
  std::map<std::string, std::vector<const results::TrialResult*>> trials_of;
  Counts total;
  for (const auto& trial : run.trials) {
    auto& trials = trials_of[trial.scenario];
    if (trials.empty()) scenarios.push_back(trial.scenario);
    trials.push_back(&trial);
    total.add(trial);
  }

  std::string out = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  out += fmt::format(
      "<testsuites name=\"orgquake.{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" time=\"{}\">\n",
      xml_escape(run.suite, true), total.tests, total.failures, total.errors,
      seconds(run.duration_s > 0 ? run.duration_s : total.time));
  for (const auto& scenario : scenarios) {
    Counts counts;
    for (const auto* trial : trials_of[scenario]) counts.add(*trial);
    out += fmt::format(
        "  <testsuite name=\"orgquake.{}.{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\" "
        "skipped=\"0\" time=\"{}\">\n",
        xml_escape(run.suite, true), xml_escape(scenario, true), counts.tests, counts.failures,
        counts.errors, seconds(counts.time));
    out += "    <properties>\n";
    const std::pair<const char*, std::string> properties[] = {{"seed", std::to_string(run.seed)},
                                                              {"suite", run.suite},
                                                              {"migrator", run.migrator},
                                                              {"git_sha", run.git_sha},
                                                              {"started_at", run.started_at}};
    for (const auto& [name, value] : properties) {
      out += fmt::format("      <property name=\"{}\" value=\"{}\"/>\n", name,
                         xml_escape(value, true));
    }
    out += "    </properties>\n";
    for (const auto* trial : trials_of[scenario]) append_testcase(out, *trial);
    out += "  </testsuite>\n";
  }
  out += "</testsuites>\n";
  return out;
}

}  // namespace orgquake::reports
