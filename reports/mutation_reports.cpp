#include "reports/mutation_reports.hpp"

#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "reports/atomic_file.hpp"
#include "reports/html_text.hpp"
#include "reports/results_json.hpp"

namespace orgquake::reports {
namespace {

namespace fs = std::filesystem;

constexpr const char* kMutationPageStyle =
    "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "th{background:#f4f4f4}.caught{color:#1a7f37;font-weight:600}"
    ".escaped{color:#cf222e;font-weight:600}.equivalent{color:#9a6700}"
    "code{font-size:12px;word-break:break-all}.small{color:#555;font-size:12px}";

std::string counts(const std::map<std::string, int>& by_name) {
  std::string out;
  for (const auto& [name, n] : by_name) {
    out += fmt::format("{}{} ({})", out.empty() ? "" : ", ", html_escape(name), n);
  }
  return out.empty() ? "&mdash;" : out;
}

std::string status_cell(const results::BugOutcome& o) {
  if (!o.error.empty()) return "<span class=\"escaped\">error</span>";
  if (o.caught()) return "<span class=\"caught\">caught</span>";
  if (o.equivalent()) return "<span class=\"equivalent\">equivalent</span>";
  return "<span class=\"escaped\">escaped</span>";
}

std::string report_link(const results::BugOutcome& o, const fs::path& dir) {
  if (o.out_dir.empty()) return "";
  const auto relative = fs::path(o.out_dir).lexically_relative(dir);
  if (relative.empty() || *relative.begin() == "..") return "";
  return fmt::format(" <a href=\"{}\">report</a>",
                     html_escape((relative / "report.html").generic_string()));
}

std::string row(const results::BugOutcome& o, const fs::path& dir) {
  std::string detail = html_escape(o.bug.summary);
  if (!o.bug.source.empty()) {
    detail += "<br><span class=\"small\">source: " + html_escape(o.bug.source) + "</span>";
  }
  if (o.equivalent()) {
    detail += "<br><span class=\"small equivalent\">equivalent: " +
              html_escape(o.bug.equivalent_because) + "</span>";
  }
  if (!o.error.empty()) detail += "<br><span class=\"escaped\">" + html_escape(o.error) + "</span>";
  std::string evidence = o.first_evidence.empty() ? "" : html_escape(o.first_evidence);
  if (!o.first_repro.empty()) evidence += "<br><code>" + html_escape(o.first_repro) + "</code>";
  return fmt::format(
      "<tr><td><code>{}</code><br>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{} of {}</td>"
      "<td>{}</td></tr>\n",
      html_escape(o.bug.migrator), detail, status_cell(o), report_link(o, dir),
      counts(o.invalid_by_invariant), counts(o.invalid_by_scenario), o.invalid_trials, o.trials,
      evidence);
}

}  // namespace

std::string mutation_score_html(const results::MutationScore& score, const fs::path& dir) {
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>orgquake mutation score: {}</title>\n<style>{}</style>\n</head>\n<body>\n"
      "<h1>Mutation score of suite {}: {} of {} bugs caught</h1>\n"
      "<p>Seed {}, commit {}, started {}, {:.1f} s. Each catalog bug is the reference migrator "
      "with one step done wrong; a bug is caught when some trial of the suite turns invalid.</p>\n",
      html_escape(score.suite), kMutationPageStyle, html_escape(score.suite), score.caught(),
      score.must_catch(), score.seed, html_escape(score.git_sha), html_escape(score.started_at),
      score.duration_s);
  const auto& c = score.control;
  html += fmt::format("<p>Control: <code>{}</code> is <b>{}</b> in {} trials{}{}.</p>\n",
                      html_escape(c.bug.migrator), results::name_of(c.run_verdict), c.trials,
                      report_link(c, dir),
                      c.run_verdict == results::Validity::valid
                          ? ""
                          : " &mdash; the score means nothing until the reference is valid");
  html +=
      "<table>\n<tr><th>bug</th><th>verdict</th><th>invalid by invariant (trials)</th>"
      "<th>invalid by scenario (trials)</th><th>invalid trials</th>"
      "<th>first evidence and its repro</th></tr>\n";
  for (const auto& o : score.bugs) html += row(o, dir);
  html += "</table>\n</body>\n</html>\n";
  return html;
}

MutationFiles write_mutation_reports(const results::MutationScore& score, const fs::path& dir) {
  std::error_code error;
  fs::create_directories(dir, error);
  if (error) {
    throw EnvironmentError(
        fmt::format("cannot create the output directory {}: {}", dir.string(), error.message()));
  }
  const MutationFiles files{dir / "mutation_score.json", dir / "mutation_score.html"};
  write_file_atomically(files.html, mutation_score_html(score, dir));
  write_file_atomically(files.json, dump_report_json(score.to_json(), 2) + "\n");
  return files;
}

}  // namespace orgquake::reports
