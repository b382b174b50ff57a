#include "reports/bench_html.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "bench/bench_table.hpp"
#include "bench/bench_targets.hpp"
#include "core/error.hpp"
#include "reports/html_text.hpp"

namespace orgquake::reports {
namespace {

using Point = std::pair<double, double>;

struct Series {
  std::string label;
  std::string color;
  std::vector<Point> points;
  bool dashed = false;
};

struct Chart {
  std::string title;
  std::string x_label;
  std::string y_label;
  bool log_y = true;  ///< latencies span orders of magnitude; throughput does not
  std::function<std::string(double)> y_text;
};

constexpr double kWidth = 680, kHeight = 380;
constexpr double kLeft = 80, kRight = 170, kTop = 40, kBottom = 56;

// The number after `key` in a benchmark name: "members:16" -> 16.
std::optional<double> parameter(const std::string& name, std::string_view key) {
  const auto at = name.find(key);
  if (at == std::string::npos) return std::nullopt;
  try {
    return std::stod(name.substr(at + key.size()));
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Ticks for a log axis: 1, 2, 5 times the powers of ten inside [low, high].
std::vector<double> log_ticks(double low, double high) {
  std::vector<double> ticks;
  for (int e = static_cast<int>(std::floor(std::log10(low))); e <= std::ceil(std::log10(high));
       ++e) {
    for (double m : {1.0, 2.0, 5.0}) {
      const double t = m * std::pow(10.0, e);
      if (t >= low * 0.999 && t <= high * 1.001) ticks.push_back(t);
    }
  }
  return ticks;
}

std::vector<double> linear_ticks(double high) {
  const double raw = high / 5;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  double step = power;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * power >= raw) {
      step = m * power;
      break;
    }
  }
  std::vector<double> ticks;
  for (double t = 0; t <= high * 1.001; t += step) ticks.push_back(t);
  return ticks;
}

// A line chart with a log2 x axis (membership and client counts grow by
// powers of two) and a log or linear y axis, as inline SVG.
std::string line_chart(const Chart& chart, const std::vector<Series>& all_series) {
  std::vector<Point> all;
  for (const auto& s : all_series) all.insert(all.end(), s.points.begin(), s.points.end());
  if (all.empty()) {
    return fmt::format("<p class=\"empty\">{}: not measured in this run.</p>\n",
                       html_escape(chart.title));
  }
  double x_min = all[0].first, x_max = all[0].first, y_min = all[0].second, y_max = all[0].second;
  for (const auto& [x, y] : all) {
    x_min = std::min(x_min, x);
    x_max = std::max(x_max, x);
    y_min = std::min(y_min, y);
    y_max = std::max(y_max, y);
  }
  if (x_max <= x_min) x_max = x_min * 2;
  double low, high;
  if (chart.log_y) {
    low = std::pow(10.0, std::floor(std::log10(std::max(y_min, 1e-9))));
    high = std::pow(10.0, std::ceil(std::log10(std::max(y_max, low * 10))));
  } else {
    low = 0;
    high = y_max > 0 ? y_max * 1.1 : 1;
  }
  const double plot_w = kWidth - kLeft - kRight, plot_h = kHeight - kTop - kBottom;
  const auto px = [&](double x) {
    return kLeft +
           (std::log2(x) - std::log2(x_min)) / (std::log2(x_max) - std::log2(x_min)) * plot_w;
  };
  const auto py = [&](double y) {
    const double f = chart.log_y ? (std::log10(std::max(y, low)) - std::log10(low)) /
                                       (std::log10(high) - std::log10(low))
                                 : (y - low) / (high - low);
    return kTop + (1 - f) * plot_h;
  };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} "
      "{1}\" role=\"img\" aria-label=\"{2}\">\n<title>{2}</title>\n"
      "<text x=\"{3}\" y=\"22\" class=\"title\">{2}</text>\n",
      kWidth, kHeight, html_escape(chart.title), kLeft);
  const auto y_ticks = chart.log_y ? log_ticks(low, high) : linear_ticks(high);
  for (double t : y_ticks) {
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" class=\"grid\"/>"
        "<text x=\"{3}\" y=\"{4:.1f}\" class=\"tick\" text-anchor=\"end\">{5}</text>\n",
        kLeft, kLeft + plot_w, py(t), kLeft - 6, py(t) + 4, html_escape(chart.y_text(t)));
  }
  std::vector<double> x_ticks;
  for (const auto& [x, y] : all) {
    if (std::find(x_ticks.begin(), x_ticks.end(), x) == x_ticks.end()) x_ticks.push_back(x);
  }
  for (double t : x_ticks) {
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\" class=\"grid\"/>"
        "<text x=\"{0:.1f}\" y=\"{3}\" class=\"tick\" text-anchor=\"middle\">{4}</text>\n",
        px(t), kTop, kTop + plot_h, kTop + plot_h + 18, t);
  }
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" class=\"frame\"/>\n"
      "<text x=\"{}\" y=\"{}\" class=\"label\" text-anchor=\"middle\">{}</text>\n"
      "<text x=\"16\" y=\"{}\" class=\"label\" text-anchor=\"middle\" "
      "transform=\"rotate(-90 16 {})\">{}</text>\n",
      kLeft, kTop, plot_w, plot_h, kLeft + plot_w / 2, kHeight - 12, html_escape(chart.x_label),
      kTop + plot_h / 2, kTop + plot_h / 2, html_escape(chart.y_label));

  double legend_y = kTop + 10;
  for (const auto& s : all_series) {
    if (s.points.empty()) continue;
    auto points = s.points;
    std::sort(points.begin(), points.end());
    std::string path;
    for (const auto& [x, y] : points) path += fmt::format("{:.1f},{:.1f} ", px(x), py(y));
    svg +=
        fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{}/>\n",
                    path, s.color, s.dashed ? " stroke-dasharray=\"6 4\"" : "");
    if (!s.dashed) {
      for (const auto& [x, y] : points) {
        svg += fmt::format(
            "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3.5\" fill=\"{}\"><title>{}: {} at {}</title>"
            "</circle>\n",
            px(x), py(y), s.color, html_escape(s.label), html_escape(chart.y_text(y)), x);
      }
    }
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"{3}\" "
        "stroke-width=\"2\"{4}/><text x=\"{5}\" y=\"{6:.1f}\" class=\"legend\">{7}</text>\n",
        kLeft + plot_w + 12, kLeft + plot_w + 36, legend_y, s.color,
        s.dashed ? " stroke-dasharray=\"6 4\"" : "", kLeft + plot_w + 42, legend_y + 4,
        html_escape(s.label));
    legend_y += 20;
  }
  return svg + "</svg>\n";
}

std::string microseconds_text(double us) {
  return bench::human_nanoseconds(us * 1e3);
}

std::string membership_chart(const bench::BenchRun& run) {
  const std::vector<std::pair<std::string, std::string>> strategies = {
      {"joined", "#1b7837"},
      {"selectin", "#2166ac"},
      {"n_plus_one", "#b2182b"},
      {"n_plus_one_pipelined", "#e08214"}};
  std::vector<Series> series;
  std::vector<double> counts;
  for (const auto& [strategy, color] : strategies) {
    Series s{strategy, color, {}};
    const std::string prefix = "lookup/" + strategy + "/members:";
    for (const auto& r : run.results) {
      if (r.name.rfind(prefix, 0) != 0 || r.error) continue;
      if (const auto m = parameter(r.name, "members:")) {
        s.points.emplace_back(*m, r.median_ns / 1e3);
        counts.push_back(*m);
      }
    }
    series.push_back(std::move(s));
  }
  if (const auto* floor = run.find("floor/pg_select1"); floor && !floor->error && !counts.empty()) {
    const auto [lo, hi] = std::minmax_element(counts.begin(), counts.end());
    series.push_back({"one round trip (floor/pg_select1)",
                      "#777777",
                      {{*lo, floor->median_ns / 1e3}, {*hi, floor->median_ns / 1e3}},
                      true});
  }
  return line_chart({"Verified lookup latency against memberships (median)",
                     "memberships of the user", "latency per lookup", true, microseconds_text},
                    series);
}

std::string concurrency_charts(const bench::BenchRun& run) {
  Series rate{"lookups/s", "#1b7837", {}};
  Series p50{"p50", "#2166ac", {}};
  Series p99{"p99", "#b2182b", {}};
  for (const auto& r : run.results) {
    if (r.name.rfind("lookup/concurrent/clients:", 0) != 0 || r.error) continue;
    const auto clients = parameter(r.name, "clients:");
    if (!clients) continue;
    if (auto v = r.counter("lookups_per_s")) rate.points.emplace_back(*clients, *v);
    if (auto v = r.counter("p50_us")) p50.points.emplace_back(*clients, *v);
    if (auto v = r.counter("p99_us")) p99.points.emplace_back(*clients, *v);
  }
  return line_chart({"Throughput against concurrent clients (fibers on 2 worker threads)",
                     "concurrent clients", "lookups per second", false,
                     [](double v) { return fmt::format("{:.0f}", v); }},
                    {rate}) +
         line_chart({"Lookup latency against concurrent clients", "concurrent clients",
                     "latency per lookup", true, microseconds_text},
                    {p50, p99});
}

std::string targets_list(const bench::BenchRun& run) {
  std::string out = "<ul class=\"targets\">\n";
  for (const auto& check : bench::check_targets(run)) {
    const char* status = !check.met ? "unmeasured" : *check.met ? "met" : "missed";
    out += fmt::format("<li class=\"{0}\"><b>{0}</b> {1}: {2}</li>\n", status,
                       html_escape(check.target), html_escape(check.measured));
  }
  return out + "</ul>\n";
}

std::string context_list(const bench::BenchRun& run) {
  std::string out;
  for (const char* key : {"date", "host_name", "executable", "mode", "postgres_version",
                          "world_users", "cpu_pinning"}) {
    const auto it = run.context.find(key);
    if (it == run.context.end()) continue;
    out += fmt::format("<span><b>{}</b> {}</span> ", html_escape(key), html_escape(it->second));
  }
  if (!run.load_average.empty()) {
    out += fmt::format("<span><b>load average</b> {:.2f}</span>", run.load_average.front());
  }
  return out;
}

constexpr const char* kStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 28px; }
.context span { margin-right: 14px; color: #555; }
svg { display: block; margin: 12px 0; }
svg .title { font-size: 14px; font-weight: 600; }
svg .tick, svg .legend { font-size: 11px; fill: #333; }
svg .label { font-size: 12px; fill: #333; }
svg .grid { stroke: #e4e4e4; }
svg .frame { fill: none; stroke: #999; }
pre { background: #f6f6f6; padding: 12px; overflow-x: auto; font-size: 12px; }
.targets .met b { color: #1b7837; } .targets .missed b { color: #b2182b; }
.targets .unmeasured b { color: #777; }
)";

}  // namespace

std::string bench_html(const bench::BenchRun& run,
                       const std::vector<bench::Comparison>* comparisons) {
  std::string html = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<title>orgquake bench</title>\n<style>{}</style>\n</head>\n<body>\n"
      "<h1>orgquake bench: lookup loading strategies, lock cost, concurrency</h1>\n"
      "<p class=\"context\">{}</p>\n",
      kStyle, context_list(run));
  html += "<h2>Targets</h2>\n" + targets_list(run);
  html += "<h2>Loading strategies</h2>\n" + membership_chart(run);
  html += "<h2>Concurrency</h2>\n" + concurrency_charts(run);
  html +=
      "<h2>All results</h2>\n<p>Medians over repetitions; x floor is the median divided by "
      "floor/pg_select1's median in the same run; noise is the repetitions' relative spread "
      "(1.4826 x MAD / median).</p>\n<pre>" +
      html_escape(bench::format_table(run, comparisons)) + "</pre>\n";
  return html + "</body>\n</html>\n";
}

void write_bench_html(const std::filesystem::path& path, const bench::BenchRun& run,
                      const std::vector<bench::Comparison>* comparisons) {
  std::ofstream out(path);
  out << bench_html(run, comparisons);
  out.close();
  if (!out) throw EnvironmentError(fmt::format("cannot write {}", path.string()));
}

}  // namespace orgquake::reports
