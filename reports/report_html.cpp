#include "reports/report_html.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "history/operations.hpp"
#include "reports/history_jsonl.hpp"
#include "reports/html_text.hpp"
#include "reports/results_json.hpp"

namespace orgquake::reports {
namespace {

using history::EventType;
using results::Validity;

/// Evidence entries shown per invariant; results.json keeps all of them.
constexpr std::size_t max_evidence_shown = 200;
/// Characters of an operation's or fault's details kept for the hover text.
constexpr std::size_t max_detail_chars = 400;

// ---------------------------------------------------------------------------
// Escaping.

// JSON for a <script type="application/json"> element. The element ends at
// the first "</script" whatever the quoting, so '<' (and '>' and '&', which
// matter in "<!--" and in some parsers) become \u escapes, and '/' becomes
// "\/" so that no URL appears literally. These characters occur only inside
// JSON strings, where both escapes are valid.
std::string script_json(const nlohmann::json& json) {
  const std::string dumped = dump_report_json(json);
  std::string out;
  out.reserve(dumped.size() + dumped.size() / 16);
  for (const char c : dumped) {
    switch (c) {
      case '<':
        out += "\\u003c";
        break;
      case '>':
        out += "\\u003e";
        break;
      case '&':
        out += "\\u0026";
        break;
      case '/':
        out += "\\/";
        break;
      default:
        out += c;
    }
  }
  return out;
}

// At most `limit` bytes, cut at a UTF-8 character boundary.
std::string truncated(std::string text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;
  return text.substr(0, cut) + "...";
}

// ---------------------------------------------------------------------------
// Formatting.

std::string duration_text(double ns) {
  if (!std::isfinite(ns) || ns < 0) return "-";
  // Thresholds just under each power, so that three significant digits never
  // round up into "1e+03".
  if (ns < 999.5) return fmt::format("{:.0f} ns", ns);
  if (ns < 999.5e3) return fmt::format("{:.3g} µs", ns / 1e3);
  if (ns < 999.5e6) return fmt::format("{:.3g} ms", ns / 1e6);
  return fmt::format("{:.3g} s", ns / 1e9);
}

std::string seconds_text(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "-";
  return fmt::format("{:.2f} s", seconds);
}

std::string verdict_badge(Validity validity) {
  const char* name = results::name_of(validity);
  return fmt::format("<span class=\"verdict v-{}\">{}</span>", name, name);
}

std::string pretty_json(const nlohmann::json& json) {
  return html_escape(dump_report_json(json, 2));
}

// ---------------------------------------------------------------------------
// The timeline's data: what the page's script draws.

constexpr int status_ok = 0, status_fail = 1, status_info = 2, status_open = 3;

int status_of(EventType type) {
  switch (type) {
    case EventType::ok:
      return status_ok;
    case EventType::fail:
      return status_fail;
    case EventType::info:
      return status_info;
    default:
      return status_open;
  }
}

// An operation from invoke to completion; an operation that never completed
// runs to the end of the trial ("open").
struct TimelineOperation {
  int row = 0;
  std::int64_t start_ns = 0, end_ns = 0;
  int status = status_open;
  std::int64_t op = -1;
  std::string kind, user, phase, detail;
};

// The rows of a trial's timeline: the controller first, then per worker a
// row for events of the process itself (faults aimed at it, failpoints
// outside any client) when there are any, and one per client.
class Rows {
 public:
  void add(int worker, int client) { keys_.insert(key(worker, client)); }
  void finish() {
    keys_.insert(key(history::controller, -1));
    order_.assign(keys_.begin(), keys_.end());
    for (std::size_t i = 0; i < order_.size(); ++i) index_[order_[i]] = static_cast<int>(i);
  }
  int index(int worker, int client) const { return index_.at(key(worker, client)); }
  nlohmann::json to_json() const {
    nlohmann::json rows = nlohmann::json::array();
    for (const auto& [worker, client] : order_) {
      std::string label = worker < 0   ? "controller"
                          : client < 0 ? fmt::format("w{}", worker)
                                       : fmt::format("w{}.c{}", worker, client);
      rows.push_back({std::move(label), worker});
    }
    return rows;
  }
  std::vector<int> rows_of_worker(int worker) const {
    std::vector<int> rows;
    for (std::size_t i = 0; i < order_.size(); ++i) {
      if (order_[i].first == worker) rows.push_back(static_cast<int>(i));
    }
    return rows;
  }

 private:
  static std::pair<int, int> key(int worker, int client) {
    if (worker < 0) return {history::controller, -1};  // the controller has no clients
    return {worker, std::max(client, -1)};
  }
  std::set<std::pair<int, int>> keys_;
  std::vector<std::pair<int, int>> order_;
  std::map<std::pair<int, int>, int> index_;
};

// The worker a fault was aimed at: the controller records it with its own
// worker number and names the target in the value.
int target_worker(const history::Event& event) {
  if (event.worker >= 0) return event.worker;
  if (!event.value.is_object()) return history::controller;
  if (const auto it = event.value.find("worker");
      it != event.value.end() && it->is_number_integer()) {
    return it->get<int>();
  }
  return history::controller;
}

std::string completion_detail(const history::Event& completion) {
  if (completion.type == EventType::ok) return dump_report_json(completion.value);
  const std::string error = history::string_field(completion.value, "error");
  const std::string message = history::string_field(completion.value, "message");
  if (error.empty() && message.empty()) return dump_report_json(completion.value);
  return error.empty() ? message : message.empty() ? error : error + ": " + message;
}

struct TimelineData {
  std::vector<TimelineOperation> operations;
  nlohmann::json json;
};

TimelineData timeline_data(const results::TrialResult& trial) {
  const std::vector<const history::Event*> events = events_in_time_order(trial.history);
  TimelineData data;
  std::int64_t begin_ns = 0, end_ns = 1;
  Rows rows;
  for (const history::Event* event_pointer : events) {
    const history::Event& event = *event_pointer;
    begin_ns = std::min(begin_ns, event.time_ns);
    end_ns = std::max(end_ns, event.time_ns);
    // Phases are drawn across the rows; Redis's lock commands are evidence
    // for the lock invariants, not rows of the timeline.
    if (event.type == EventType::phase || event.type == EventType::redis) continue;
    if (event.type == EventType::fault) {
      const int target = target_worker(event);
      rows.add(target, -1);
    } else {
      rows.add(event.worker, event.client);
    }
  }
  rows.finish();

  nlohmann::json faults = nlohmann::json::array();
  nlohmann::json failpoints = nlohmann::json::array();
  nlohmann::json phases = nlohmann::json::array();
  nlohmann::json pauses = nlohmann::json::array();
  std::map<int, std::int64_t> paused_since;  // worker -> time of its pause
  const auto close_pause = [&](int worker, std::int64_t at) {
    const auto it = paused_since.find(worker);
    if (it == paused_since.end()) return;
    const auto worker_rows = rows.rows_of_worker(worker);
    if (!worker_rows.empty()) {
      pauses.push_back({worker_rows.front(), worker_rows.back(), it->second, at});
    }
    paused_since.erase(it);
  };

  for (const history::Event* event_pointer : events) {
    const history::Event& event = *event_pointer;
    switch (event.type) {
      case EventType::invoke:
      case EventType::ok:
      case EventType::fail:
      case EventType::info:
        break;  // operations: paired below, by the history's own reader
      case EventType::fault: {
        const int target = target_worker(event);
        if (event.kind == "pause" && target >= 0) {
          paused_since.emplace(target, event.time_ns);
        } else if ((event.kind == "resume" || event.kind == "crash") && target >= 0) {
          close_pause(target, event.time_ns);
        } else if (event.kind == "heal") {
          while (!paused_since.empty()) close_pause(paused_since.begin()->first, event.time_ns);
        }
        faults.push_back({rows.index(target, -1), event.time_ns, event.kind, event.user,
                          truncated(dump_report_json(event.value), max_detail_chars)});
        break;
      }
      case EventType::failpoint: {
        const std::string action = history::string_field(event.value, "action");
        const bool acted = !action.empty() && action != "off";
        failpoints.push_back({rows.index(event.worker, event.client), event.time_ns, event.kind,
                              truncated(dump_report_json(event.value), max_detail_chars), event.op,
                              event.user, acted ? 1 : 0});
        break;
      }
      case EventType::phase:
        phases.push_back({event.time_ns, event.kind});
        break;
      case EventType::redis:
        break;  // evidence of the lock invariants, not drawn
      case EventType::rollout:
        // A change to the application is drawn as a phase line: from here on,
        // the flag says this, or the database is the backup's.
        phases.push_back({event.time_ns, history::describe_rollout(event)});
        break;
    }
  }
  for (const history::Operation& paired : history::operations_of(trial.history)) {
    const history::Event& first = paired.first();
    TimelineOperation operation;
    operation.row = rows.index(first.worker, first.client);
    operation.start_ns = first.time_ns;
    operation.op = first.op;
    operation.kind = first.kind;
    operation.user = first.user;
    operation.phase = first.phase;
    if (paired.completion == nullptr) {
      operation.end_ns = end_ns;  // still open when the trial ended
    } else {
      // A completion without its invoke is shown as an instant.
      operation.end_ns = paired.completion->time_ns;
      operation.status = status_of(paired.completion->type);
      operation.detail = truncated(completion_detail(*paired.completion), max_detail_chars);
    }
    data.operations.push_back(std::move(operation));
  }
  while (!paused_since.empty()) close_pause(paused_since.begin()->first, end_ns);
  std::sort(data.operations.begin(), data.operations.end(),
            [](const TimelineOperation& a, const TimelineOperation& b) {
              return std::tie(a.start_ns, a.op) < std::tie(b.start_ns, b.op);
            });

  nlohmann::json operations = nlohmann::json::array();
  for (const auto& o : data.operations) {
    operations.push_back(
        {o.row, o.start_ns, o.end_ns, o.status, o.op, o.kind, o.user, o.phase, o.detail});
  }
  data.json = {{"trial", trial.index},
               {"begin", begin_ns},
               {"end", end_ns},
               {"rows", rows.to_json()},
               {"ops", std::move(operations)},
               {"faults", faults},
               {"failpoints", failpoints},
               {"phases", phases},
               {"pauses", pauses}};
  return data;
}

// ---------------------------------------------------------------------------
// Lookup latency histogram: inline SVG, bars on log-spaced buckets.

std::string latency_histogram(const std::vector<TimelineOperation>& operations) {
  std::vector<double> latencies;
  for (const auto& o : operations) {
    if (o.status == status_ok && o.kind == history::op_lookup) {
      // One nanosecond at least, so that the log scale has a place for it.
      latencies.push_back(std::max<double>(1, static_cast<double>(o.end_ns - o.start_ns)));
    }
  }
  if (latencies.empty()) return "<p class=\"empty\">No lookup completed ok in this trial.</p>\n";
  std::sort(latencies.begin(), latencies.end());
  const auto percentile = [&](double p) {
    // Nearest rank.
    const auto rank = static_cast<std::size_t>(std::ceil(p / 100 * latencies.size()));
    return latencies[std::clamp<std::size_t>(rank, 1, latencies.size()) - 1];
  };

  // Four buckets per decade: bucket k holds [10^(k/4), 10^((k+1)/4)) ns.
  constexpr int per_decade = 4;
  const auto bucket_of = [&](double ns) {
    return static_cast<int>(std::floor(std::log10(ns) * per_decade + 1e-9));
  };
  const int first = bucket_of(latencies.front());
  const int last = std::max(bucket_of(latencies.back()), first + 3);
  std::vector<int> counts(static_cast<std::size_t>(last - first + 1), 0);
  for (double ns : latencies) ++counts[static_cast<std::size_t>(bucket_of(ns) - first)];
  const int most = *std::max_element(counts.begin(), counts.end());

  constexpr double width = 720, height = 220, left = 48, right = 12, top = 14, bottom = 36;
  const double plot_width = width - left - right, plot_height = height - top - bottom;
  const double bar_width = plot_width / static_cast<double>(counts.size());
  const auto x_of = [&](double ns) {
    return left + (std::log10(ns) * per_decade - first) * bar_width;
  };
  const auto edge = [&](int bucket) { return std::pow(10.0, double(bucket) / per_decade); };

  std::string svg = fmt::format(
      "<svg class=\"histogram\" viewBox=\"0 0 {} {}\" width=\"{}\" height=\"{}\" role=\"img\" "
      "aria-label=\"lookup latency histogram\">\n",
      width, height, width, height);
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>\n", left,
                     top + plot_height, width - right, top + plot_height);
  svg += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" class=\"axis\"/>\n", left, top,
                     left, top + plot_height);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">{}</text>\n",
                     left - 4, top + 8, most);
  svg += fmt::format("<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"end\">0</text>\n",
                     left - 4, top + plot_height);
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const int bucket = first + static_cast<int>(i);
    const double x = left + static_cast<double>(i) * bar_width;
    if (bucket % per_decade == 0) {
      svg += fmt::format(
          "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" class=\"grid\"/>"
          "<text x=\"{0:.1f}\" y=\"{3}\" class=\"tick\" text-anchor=\"middle\">{4}</text>\n",
          x, top, top + plot_height + 4, top + plot_height + 16,
          html_escape(duration_text(edge(bucket))));
    }
    if (counts[i] == 0) continue;
    const double bar_height = plot_height * counts[i] / most;
    svg += fmt::format(
        "<rect x=\"{:.1f}\" y=\"{:.1f}\" width=\"{:.1f}\" height=\"{:.1f}\" class=\"bar\">"
        "<title>{} to {}: {} lookup{}</title></rect>\n",
        x + 1, top + plot_height - bar_height, std::max(bar_width - 2, 1.0), bar_height,
        html_escape(duration_text(edge(bucket))), html_escape(duration_text(edge(bucket + 1))),
        counts[i], counts[i] == 1 ? "" : "s");
  }
  // Labels on two heights, so that close percentiles stay readable.
  for (const auto& [label, p, label_y] :
       {std::tuple{"p50", 50.0, top + 10}, std::tuple{"p99", 99.0, top + 24}}) {
    const double x = x_of(percentile(p));
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\" class=\"marker\"/>"
        "<text x=\"{3:.1f}\" y=\"{4}\" class=\"tick\">{5}</text>\n",
        x, top, top + plot_height, x + 3, label_y, label);
  }
  svg += fmt::format(
      "<text x=\"{}\" y=\"{}\" class=\"tick\" text-anchor=\"middle\">"
      "lookup latency, invoke to ok (log scale)</text>\n",
      left + plot_width / 2, height - 4);
  svg += "</svg>\n";
  svg += fmt::format(
      "<p class=\"percentiles\">{} lookup{} ok · p50 {} · p90 {} · p99 {} · max {}</p>\n",
      latencies.size(), latencies.size() == 1 ? "" : "s",
      html_escape(duration_text(percentile(50))), html_escape(duration_text(percentile(90))),
      html_escape(duration_text(percentile(99))), html_escape(duration_text(latencies.back())));
  return svg;
}

// ---------------------------------------------------------------------------
// The page's parts.

constexpr std::string_view style = R"css(
:root { --ok: #2e9d4f; --fail: #d64541; --info: #e6a23c; --open: #9aa0a6; --fault: #b0004a;
        --failpoint: #7b3fe4; --phase: #2962ff; --ink: #1f2328; --muted: #656d76; --line: #d0d7de; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
       margin: 0 auto; padding: 16px 24px 48px; max-width: 1600px; }
h1 { font-size: 22px; margin: 8px 0; } h2 { font-size: 18px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f6f8fa; padding: 8px; overflow: auto; max-height: 420px; margin: 4px 0; }
.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
.verdict { display: inline-block; padding: 0 8px; border-radius: 10px; color: #fff;
           font-weight: 600; font-size: 12px; line-height: 20px; }
.v-valid { background: var(--ok); } .v-invalid { background: var(--fail); }
.v-unknown { background: var(--info); }
table.trials { border-collapse: collapse; width: 100%; }
table.trials th, table.trials td { border-bottom: 1px solid var(--line); padding: 4px 8px;
                                   text-align: left; vertical-align: top; }
table.trials td.n { text-align: right; font-variant-numeric: tabular-nums; }
table.trials tr.t-invalid { background: #fdf0ef; } table.trials tr.t-unknown { background: #fdf6e9; }
section.trial { border-top: 2px solid var(--line); margin-top: 32px; }
.error { color: var(--fail); white-space: pre-wrap; }
details { margin: 4px 0; } summary { cursor: pointer; }
details.invariant { border: 1px solid var(--line); border-radius: 6px; padding: 4px 8px; }
ol.evidence li { margin: 6px 0; }
code.symptom { font-size: 11px; padding: 0 5px; border: 1px solid var(--line); border-radius: 4px;
               background: #f6f8fa; color: var(--muted); }
.empty, .percentiles, .hint { color: var(--muted); }
.timeline { position: relative; width: 100%; }
.timeline canvas { display: block; width: 100%; cursor: crosshair; }
.timeline .controls { margin: 4px 0; }
.legend span { display: inline-block; margin-right: 14px; color: var(--muted); }
.legend i { display: inline-block; width: 12px; height: 10px; margin-right: 4px;
            vertical-align: middle; }
.tip { position: fixed; z-index: 10; display: none; pointer-events: none; max-width: 520px;
       background: #fff; border: 1px solid var(--line); box-shadow: 0 2px 8px rgba(0,0,0,.15);
       padding: 6px 8px; font: 12px/1.4 ui-monospace, Menlo, Consolas, monospace;
       white-space: pre-wrap; word-break: break-all; }
svg.histogram { max-width: 100%; height: auto; }
svg.histogram .bar { fill: #4a7fd4; } svg.histogram .axis { stroke: var(--ink); }
svg.histogram .grid { stroke: var(--line); } svg.histogram .marker { stroke: var(--fail);
  stroke-dasharray: 4 3; } svg.histogram .tick { font-size: 11px; fill: var(--muted); }
)css";

// Draws every timeline of the page from the embedded JSON; a timeline is drawn
// when it first scrolls into view, so a run of many trials opens quickly.
constexpr std::string_view script = R"js(
(function () {
  'use strict';
  var source = document.getElementById('orgquake-timelines');
  if (!source) return;
  var trials = JSON.parse(source.textContent);
  var STATUS = ['ok', 'fail', 'info', 'open'];
  var COLOR = { ok: '#2e9d4f', fail: '#d64541', info: '#e6a23c', open: '#9aa0a6',
                fault: '#b0004a', failpoint: '#7b3fe4', observed: '#b8bcc2', phase: '#2962ff',
                pause: 'rgba(230,162,60,0.18)', band: '#f6f8fa', ink: '#1f2328', muted: '#656d76' };
  var ROW_MAX = 14, AXIS = 26, LABEL = 72, RIGHT = 10;
  // Browsers refuse canvases much beyond 16 million pixels (Safari's limit).
  var MAX_PIXELS = 16e6;

  var tip = document.createElement('div');
  tip.className = 'tip';
  document.body.appendChild(tip);

  function duration(ns) {
    var a = Math.abs(ns);
    if (a < 999.5) return ns.toFixed(0) + ' ns';
    if (a < 999.5e3) return (ns / 1e3).toPrecision(3) + ' µs';
    if (a < 999.5e6) return (ns / 1e6).toPrecision(3) + ' ms';
    return (ns / 1e9).toPrecision(4) + ' s';
  }
  function niceStep(range, count) {
    var raw = range / Math.max(count, 1);
    var power = Math.pow(10, Math.floor(Math.log10(raw)));
    var steps = [1, 2, 5, 10];
    for (var i = 0; i < steps.length; i++) if (steps[i] * power >= raw) return steps[i] * power;
    return 10 * power;
  }
  function tickLabel(t, step) {
    if (step >= 1e9) return (t / 1e9).toFixed(step >= 1e10 ? 0 : 1) + ' s';
    if (step >= 1e6) return (t / 1e6).toFixed(0) + ' ms';
    if (step >= 1e3) return (t / 1e3).toFixed(0) + ' µs';
    return t.toFixed(0) + ' ns';
  }

  function Timeline(container, data) {
    this.container = container;
    this.data = data;
    this.canvas = container.querySelector('canvas');
    this.v0 = data.begin;
    this.v1 = Math.max(data.end, data.begin + 1);
    this.rowCount = data.rows.length;
    this.byStatus = [[], [], [], []];
    this.rowOps = []; this.rowFailpoints = []; this.rowFaults = [];
    for (var r = 0; r < this.rowCount; r++) {
      this.rowOps.push([]); this.rowFailpoints.push([]); this.rowFaults.push([]);
    }
    var self = this;
    data.ops.forEach(function (o) { self.byStatus[o[3]].push(o); self.rowOps[o[0]].push(o); });
    data.failpoints.forEach(function (f) { self.rowFailpoints[f[0]].push(f); });
    data.faults.forEach(function (f) { self.rowFaults[f[0]].push(f); });
    // Rows shrink when there are many clients, so the lane stays on a screen or two.
    this.row = this.rowCount <= 60 ? ROW_MAX : Math.max(4, Math.floor(60 * ROW_MAX / this.rowCount));
    this.height = AXIS + this.rowCount * this.row + 6;
    this.drag = null;
    this.attach();
  }

  Timeline.prototype.x = function (t) {
    return LABEL + (t - this.v0) / (this.v1 - this.v0) * (this.width - LABEL - RIGHT);
  };
  Timeline.prototype.timeAt = function (x) {
    return this.v0 + (x - LABEL) / (this.width - LABEL - RIGHT) * (this.v1 - this.v0);
  };

  Timeline.prototype.draw = function () {
    var canvas = this.canvas, data = this.data, self = this, ROW = this.row;
    this.width = Math.max(this.container.clientWidth, 320);
    var dpr = Math.min(window.devicePixelRatio || 1,
                       Math.sqrt(MAX_PIXELS / (this.width * this.height)));
    canvas.style.height = this.height + 'px';
    canvas.width = Math.round(this.width * dpr);
    canvas.height = Math.round(this.height * dpr);
    var g = canvas.getContext('2d');
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, this.width, this.height);
    g.font = '11px system-ui, sans-serif';
    g.textBaseline = 'middle';

    // Row bands: one shade per worker, so that a worker's clients read as one lane.
    var previous = null, shade = false;
    for (var r = 0; r < this.rowCount; r++) {
      var worker = data.rows[r][1];
      var first = worker !== previous;
      if (first) { shade = !shade; previous = worker; }
      if (shade) { g.fillStyle = COLOR.band; g.fillRect(0, AXIS + r * ROW, this.width, ROW); }
      g.fillStyle = COLOR.muted;
      // Rows too thin for a label each get one per worker.
      if (ROW >= 10) g.fillText(data.rows[r][0], 4, AXIS + r * ROW + ROW / 2);
      else if (first) g.fillText(worker < 0 ? 'controller' : 'w' + worker, 4, AXIS + r * ROW + 5);
    }

    // Time axis.
    var plot = this.width - LABEL - RIGHT;
    var step = niceStep(this.v1 - this.v0, plot / 110);
    g.strokeStyle = '#d0d7de';
    g.fillStyle = COLOR.muted;
    g.beginPath();
    for (var t = Math.ceil(this.v0 / step) * step; t <= this.v1; t += step) {
      var x = Math.round(this.x(t)) + 0.5;
      g.moveTo(x, AXIS - 4); g.lineTo(x, this.height);
      g.fillText(tickLabel(t, step), x + 3, 8);
    }
    g.stroke();

    g.save();
    g.beginPath();
    g.rect(LABEL, 0, plot, this.height);
    g.clip();

    // Paused workers: a band over the worker's rows.
    g.fillStyle = COLOR.pause;
    data.pauses.forEach(function (p) {
      var x0 = self.x(p[2]), x1 = self.x(p[3]);
      g.fillRect(x0, AXIS + p[0] * ROW, Math.max(x1 - x0, 1), (p[1] - p[0] + 1) * ROW);
    });

    // Operations, one fill per status.
    var pad = ROW >= 10 ? 3 : 1;
    for (var s = 0; s < 4; s++) {
      g.fillStyle = COLOR[STATUS[s]];
      var ops = this.byStatus[s];
      for (var i = 0; i < ops.length; i++) {
        var o = ops[i];
        if (o[2] < this.v0 || o[1] > this.v1) continue;
        var a = this.x(o[1]), b = this.x(o[2]);
        g.fillRect(a, AXIS + o[0] * ROW + pad, Math.max(b - a, 1.5), ROW - 2 * pad);
      }
    }

    // Failpoint firings: short grey ticks when only observed, tall purple ones
    // when they acted (returned an error, slept, crashed, were gated).
    [0, 1].forEach(function (acted) {
      g.strokeStyle = acted ? COLOR.failpoint : COLOR.observed;
      g.lineWidth = acted ? 2 : 1;
      g.beginPath();
      data.failpoints.forEach(function (f) {
        if (f[6] !== acted || f[1] < self.v0 || f[1] > self.v1) return;
        var x = Math.round(self.x(f[1])) + 0.5, y = AXIS + f[0] * ROW;
        g.moveTo(x, y + (acted ? 0 : 1)); g.lineTo(x, y + (acted ? ROW : Math.min(5, ROW)));
      });
      g.stroke();
    });
    g.lineWidth = 1;

    // Phase boundaries across every row.
    g.strokeStyle = COLOR.phase;
    g.fillStyle = COLOR.phase;
    g.setLineDash([5, 3]);
    g.beginPath();
    data.phases.forEach(function (p) {
      var x = Math.round(self.x(p[0])) + 0.5;
      g.moveTo(x, 14); g.lineTo(x, self.height);
      g.fillText(p[1], x + 3, 20);
    });
    g.stroke();

    // Faults: a faint line across every row and a diamond in the target's row.
    g.strokeStyle = 'rgba(176,0,74,0.35)';
    g.beginPath();
    data.faults.forEach(function (f) {
      var x = Math.round(self.x(f[1])) + 0.5;
      g.moveTo(x, AXIS); g.lineTo(x, self.height);
    });
    g.stroke();
    g.setLineDash([]);
    g.fillStyle = COLOR.fault;
    g.beginPath();
    data.faults.forEach(function (f) {
      var x = self.x(f[1]), y = AXIS + f[0] * ROW + ROW / 2;
      g.moveTo(x, y - 6); g.lineTo(x + 5, y); g.lineTo(x, y + 6); g.lineTo(x - 5, y);
      g.closePath();
    });
    g.fill();

    if (this.drag && Math.abs(this.drag.x1 - this.drag.x0) > 2) {
      g.fillStyle = 'rgba(41,98,255,0.12)';
      g.fillRect(Math.min(this.drag.x0, this.drag.x1), AXIS,
                 Math.abs(this.drag.x1 - this.drag.x0), this.height - AXIS);
    }
    g.restore();
  };

  function operationText(o, rows) {
    var lines = [o[5] + (o[4] >= 0 ? ' op ' + o[4] : '') + ' · ' + rows[o[0]][0] +
                 (o[6] ? ' · user ' + o[6] : '')];
    lines.push(STATUS[o[3]] + ' after ' + duration(o[2] - o[1]) + '  (' + duration(o[1]) +
               ' → ' + duration(o[2]) + ')');
    if (o[7]) lines.push('phase ' + o[7]);
    if (o[8] && o[8] !== '{}') lines.push(o[8]);
    return lines.join('\n');
  }
  function failpointText(f, rows) {
    return 'failpoint ' + f[2] + ' · ' + rows[f[0]][0] + ' at ' + duration(f[1]) +
           (f[4] >= 0 ? '\nop ' + f[4] : '') + (f[5] ? ' · user ' + f[5] : '') +
           (f[3] !== '{}' ? '\n' + f[3] : '');
  }
  function faultText(f, rows) {
    return 'fault ' + f[2] + ' · ' + rows[f[0]][0] + ' at ' + duration(f[1]) +
           (f[3] ? '\nuser ' + f[3] : '') + (f[4] !== '{}' ? '\n' + f[4] : '');
  }

  // What lies under the pointer: a fault, else a failpoint that acted, else
  // an operation, else an observed failpoint; a phase name over the axis.
  Timeline.prototype.describe = function (x, y) {
    var data = this.data, t = this.timeAt(x), ROW = this.row;
    var tolerance = 4 * (this.v1 - this.v0) / (this.width - LABEL - RIGHT);
    var nearest = function (items, want) {
      var best = null, distance = tolerance;
      for (var i = 0; i < items.length; i++) {
        if (want !== undefined && items[i][6] !== want) continue;
        var d = Math.abs(items[i][1] - t);
        if (d <= distance) { best = items[i]; distance = d; }
      }
      return best;
    };
    if (y < AXIS) {
      var phase = null;
      data.phases.forEach(function (p) { if (Math.abs(p[0] - t) <= tolerance) phase = p; });
      return phase ? 'phase ' + phase[1] + ' starts at ' + duration(phase[0]) : null;
    }
    var row = Math.floor((y - AXIS) / ROW);
    if (row < 0 || row >= this.rowCount) return null;
    var fault = nearest(this.rowFaults[row]);
    if (fault) return faultText(fault, data.rows);
    var acted = nearest(this.rowFailpoints[row], 1);
    if (acted) return failpointText(acted, data.rows);
    var ops = this.rowOps[row];
    for (var i = 0; i < ops.length; i++) {
      if (ops[i][1] - tolerance <= t && t <= ops[i][2] + tolerance) {
        return operationText(ops[i], data.rows);
      }
    }
    var observed = nearest(this.rowFailpoints[row], 0);
    return observed ? failpointText(observed, data.rows) : null;
  };

  Timeline.prototype.zoom = function (t0, t1) {
    var full = [this.data.begin, Math.max(this.data.end, this.data.begin + 1)];
    this.v0 = Math.max(full[0], Math.min(t0, t1));
    this.v1 = Math.min(full[1], Math.max(t0, t1));
    if (this.v1 - this.v0 < 1000) { this.v0 = full[0]; this.v1 = full[1]; }
    this.draw();
  };

  Timeline.prototype.attach = function () {
    var self = this, canvas = this.canvas;
    function local(event) {
      var box = canvas.getBoundingClientRect();
      return { x: event.clientX - box.left, y: event.clientY - box.top };
    }
    canvas.addEventListener('mousedown', function (event) {
      var p = local(event);
      if (p.x >= LABEL) self.drag = { x0: p.x, x1: p.x };
    });
    canvas.addEventListener('mousemove', function (event) {
      var p = local(event);
      if (self.drag) { self.drag.x1 = p.x; self.draw(); tip.style.display = 'none'; return; }
      var text = self.describe(p.x, p.y);
      if (!text) { tip.style.display = 'none'; return; }
      tip.textContent = text;
      tip.style.display = 'block';
      var left = event.clientX + 14, top = event.clientY + 14;
      if (left + tip.offsetWidth > window.innerWidth) left = event.clientX - tip.offsetWidth - 8;
      if (top + tip.offsetHeight > window.innerHeight) top = event.clientY - tip.offsetHeight - 8;
      tip.style.left = Math.max(left, 0) + 'px';
      tip.style.top = Math.max(top, 0) + 'px';
    });
    window.addEventListener('mouseup', function () {
      if (!self.drag) return;
      var drag = self.drag;
      self.drag = null;
      if (Math.abs(drag.x1 - drag.x0) > 4) self.zoom(self.timeAt(drag.x0), self.timeAt(drag.x1));
      else self.draw();
    });
    canvas.addEventListener('mouseleave', function () { tip.style.display = 'none'; });
    canvas.addEventListener('dblclick', function () { self.zoom(self.data.begin, self.data.end); });
    var reset = this.container.querySelector('button.reset');
    if (reset) reset.addEventListener('click', function () {
      self.zoom(self.data.begin, self.data.end);
    });
    var out = this.container.querySelector('button.zoom-out');
    if (out) out.addEventListener('click', function () {
      var middle = (self.v0 + self.v1) / 2, half = self.v1 - self.v0;
      self.zoom(middle - half, middle + half);
    });
  };

  var timelines = [];
  trials.forEach(function (data) {
    var container = document.getElementById('timeline-' + data.trial);
    if (container) timelines.push(new Timeline(container, data));
  });
  var drawn = new Set();
  function show(timeline) {
    if (drawn.has(timeline)) return;
    drawn.add(timeline);
    timeline.draw();
  }
  if ('IntersectionObserver' in window) {
    var observer = new IntersectionObserver(function (entries) {
      entries.forEach(function (entry) {
        if (!entry.isIntersecting) return;
        timelines.forEach(function (t) { if (t.container === entry.target) show(t); });
        observer.unobserve(entry.target);
      });
    }, { rootMargin: '400px' });
    timelines.forEach(function (t) { observer.observe(t.container); });
  } else {
    timelines.forEach(show);
  }
  var resizing = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizing);
    resizing = setTimeout(function () { drawn.forEach(function (t) { t.draw(); }); }, 100);
  });
})();
)js";

std::string header(const results::RunResult& run) {
  int counts[3] = {0, 0, 0};
  for (const auto& trial : run.trials) ++counts[static_cast<int>(trial.verdict)];
  std::string out = fmt::format("<header>\n<h1>orgquake run {}</h1>\n<dl class=\"facts\">\n",
                                verdict_badge(run.verdict));
  const std::pair<const char*, std::string> facts[] = {
      {"suite", run.suite},
      {"migrator", run.migrator},
      {"seed", std::to_string(run.seed)},
      {"users", std::to_string(run.users)},
      {"trials", fmt::format("{}: {} valid, {} invalid, {} unknown", run.trials.size(),
                             counts[static_cast<int>(Validity::valid)],
                             counts[static_cast<int>(Validity::invalid)],
                             counts[static_cast<int>(Validity::unknown)])},
      {"duration", seconds_text(run.duration_s)},
      {"git sha", run.git_sha},
      {"started at", run.started_at}};
  for (const auto& [name, value] : facts) {
    out += fmt::format("<dt>{}</dt><dd>{}</dd>\n", name, html_escape(value));
  }
  out += "</dl>\n</header>\n";
  return out;
}

// The first thing a person should read about a trial that did not pass.
std::string finding(const results::TrialResult& trial) {
  if (trial.verdict == Validity::valid) return {};
  for (const auto& invariant : trial.invariants) {
    if (invariant.verdict.validity == trial.verdict) {
      return truncated(invariant.name + ": " + invariant.verdict.summary, 240);
    }
  }
  return truncated(trial.error, 240);
}

std::string count_of(std::size_t count, std::string_view one, std::string_view many) {
  return fmt::format("{} {}", count, count == 1 ? one : many);
}

std::string trials_table(const results::RunResult& run) {
  std::string out =
      "<section id=\"trials\">\n<h2>Trials</h2>\n<table class=\"trials\">\n<thead><tr>"
      "<th>#</th><th>scenario</th><th>seed</th><th>verdict</th><th>ops</th>"
      "<th title=\"completions: ok / fail / info\">ok / fail / info</th>"
      "<th title=\"most lookups in flight at once\">max concurrent</th><th>lock waits</th>"
      "<th>crashes</th><th>pauses</th><th>faults</th><th>failpoints</th><th>duration</th>"
      "<th>finding</th><th>repro</th></tr></thead>\n<tbody>\n";
  for (const auto& trial : run.trials) {
    const auto& s = trial.stats;
    out += fmt::format(
        "<tr class=\"t-{0}\"><td class=\"n\"><a href=\"#trial-{1}\">{1}</a></td><td>{2}</td>"
        "<td class=\"n\">{3}</td><td>{4}</td><td class=\"n\">{5}</td>"
        "<td class=\"n\">{6} / {7} / {8}</td><td class=\"n\">{9}</td><td class=\"n\">{10}</td>"
        "<td class=\"n\">{11}</td><td class=\"n\">{12}</td><td class=\"n\">{13}</td>"
        "<td class=\"n\">{14}</td><td class=\"n\">{15}</td><td>{16}</td>"
        "<td><code>{17}</code></td></tr>\n",
        results::name_of(trial.verdict), trial.index, html_escape(trial.scenario), trial.seed,
        verdict_badge(trial.verdict), s.operations, s.ok, s.failed, s.unknown_outcome,
        s.max_concurrent_lookups, s.lock_waits, s.crashes, s.pauses, s.faults, s.failpoint_hits,
        seconds_text(trial.duration_s), html_escape(finding(trial)),
        html_escape(trial.repro_command));
  }
  out += "</tbody>\n</table>\n</section>\n";
  return out;
}

std::string invariant_section(const results::InvariantResult& invariant) {
  const auto& verdict = invariant.verdict;
  std::string out = fmt::format(
      "<details class=\"invariant\"{}><summary>{} <strong>{}</strong>: {}</summary>\n",
      verdict.validity == Validity::valid ? "" : " open", verdict_badge(verdict.validity),
      html_escape(invariant.name), html_escape(verdict.summary));
  if (verdict.evidence.empty()) {
    out += "<p class=\"empty\">No evidence recorded.</p>\n";
  } else {
    out += "<ol class=\"evidence\">\n";
    const std::size_t shown = std::min(verdict.evidence.size(), max_evidence_shown);
    for (std::size_t i = 0; i < shown; ++i) {
      const auto& evidence = verdict.evidence[i];
      // The symptom code, a small tag before the line, when there is one
      // (a results.json older than the codes has none).
      const std::string tag =
          evidence.symptom.empty()
              ? std::string()
              : fmt::format("<code class=\"symptom\">{}</code> ", html_escape(evidence.symptom));
      out += fmt::format("<li><div class=\"what\">{}{}</div>", tag, html_escape(evidence.what));
      if (!evidence.data.is_null() && !(evidence.data.is_object() && evidence.data.empty())) {
        out += fmt::format("<pre>{}</pre>", pretty_json(evidence.data));
      }
      out += "</li>\n";
    }
    out += "</ol>\n";
    if (verdict.evidence.size() > shown) {
      out += fmt::format("<p class=\"hint\">{} more in results.json.</p>\n",
                         verdict.evidence.size() - shown);
    }
  }
  out += "</details>\n";
  return out;
}

std::string trial_section(const results::TrialResult& trial, const std::string& histogram) {
  std::string out = fmt::format(
      "<section class=\"trial\" id=\"trial-{0}\">\n<h2>Trial {0}: {1} {2}</h2>\n"
      "<dl class=\"facts\"><dt>seed</dt><dd>{3}</dd><dt>duration</dt><dd>{4}</dd>"
      "<dt>repro</dt><dd><code>{5}</code></dd></dl>\n",
      trial.index, html_escape(trial.scenario), verdict_badge(trial.verdict), trial.seed,
      seconds_text(trial.duration_s), html_escape(trial.repro_command));
  if (!trial.error.empty()) {
    out += fmt::format("<p class=\"error\">harness error: {}</p>\n", html_escape(trial.error));
  }

  out += "<h3>Invariants</h3>\n";
  if (trial.invariants.empty()) out += "<p class=\"empty\">No invariant was checked.</p>\n";
  for (const auto& invariant : trial.invariants) out += invariant_section(invariant);

  out += "<h3>Timeline</h3>\n";
  if (trial.history.empty()) {
    out += "<p class=\"empty\">No history was recorded.</p>\n";
  } else {
    out += fmt::format(
        "<div class=\"timeline\" id=\"timeline-{}\">\n<div class=\"controls\">"
        "<button type=\"button\" class=\"zoom-out\">zoom out</button> "
        "<button type=\"button\" class=\"reset\">reset</button> "
        "<span class=\"hint\">drag across the timeline to zoom; hover for details</span></div>\n"
        "<div class=\"legend\"><span><i style=\"background:var(--ok)\"></i>ok</span>"
        "<span><i style=\"background:var(--fail)\"></i>fail</span>"
        "<span><i style=\"background:var(--info)\"></i>info (outcome unknown)</span>"
        "<span><i style=\"background:var(--open)\"></i>never completed</span>"
        "<span><i style=\"background:var(--fault)\"></i>fault</span>"
        "<span><i style=\"background:var(--failpoint)\"></i>failpoint acted</span>"
        "<span><i style=\"background:#b8bcc2\"></i>failpoint passed</span>"
        "<span><i style=\"background:var(--phase)\"></i>phase</span>"
        "<span><i style=\"background:rgba(230,162,60,0.3)\"></i>worker paused</span></div>\n"
        "<canvas></canvas>\n<noscript><p class=\"empty\">The timeline needs JavaScript.</p>"
        "</noscript>\n</div>\n",
        trial.index);
  }

  out += "<h3>Lookup latency</h3>\n" + histogram;

  out += fmt::format(
      "<details><summary>Fault plan ({})</summary><pre>{}</pre></details>\n",
      count_of(trial.fault_plan.is_array() ? trial.fault_plan.size() : 1, "entry", "entries"),
      pretty_json(trial.fault_plan));
  out += fmt::format("<details><summary>Failpoint order ({})</summary>",
                     count_of(trial.failpoint_order.size(), "firing", "firings"));
  if (trial.failpoint_order.empty()) {
    out += "<p class=\"empty\">The controller decided no firing.</p>";
  } else {
    out += "<ol>";
    for (const auto& step : trial.failpoint_order) {
      out += fmt::format("<li><code>{}</code></li>", html_escape(step));
    }
    out += "</ol>";
  }
  out += "</details>\n";
  out += fmt::format("<details><summary>Options</summary><pre>{}</pre></details>\n",
                     pretty_json(trial.options));
  out += "</section>\n";
  return out;
}

}  // namespace

std::string report_html(const results::RunResult& run) {
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      // Nothing may be fetched: the page must read the same offline, from a
      // CI artifact, years later.
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
      "style-src 'unsafe-inline'; script-src 'unsafe-inline'\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<title>orgquake {}: {}</title>\n<style>{}</style>\n</head>\n<body>\n",
      html_escape(run.suite), results::name_of(run.verdict), style);
  out += header(run);
  if (!run.story.empty()) {
    // What a shrink found comes before the trials that confirm it.
    std::string lines;
    for (const auto& line : run.story) lines += html_escape(line) + "\n";
    out += fmt::format("<section id=\"story\">\n<h2>{}</h2>\n<pre>{}</pre>\n</section>\n",
                       html_escape(run.story_title), lines);
  }
  out += trials_table(run);

  nlohmann::json timelines = nlohmann::json::array();
  for (const auto& trial : run.trials) {
    TimelineData timeline = timeline_data(trial);
    out += trial_section(trial, latency_histogram(timeline.operations));
    if (!trial.history.empty()) timelines.push_back(std::move(timeline.json));
  }

  out += fmt::format(
      "<section id=\"spec\"><h2>Suite</h2><details><summary>The suite as it ran</summary>"
      "<pre>{}</pre></details></section>\n",
      pretty_json(run.spec));
  out += fmt::format("<script type=\"application/json\" id=\"orgquake-timelines\">{}</script>\n",
                     script_json(timelines));
  out += fmt::format("<script>{}</script>\n</body>\n</html>\n", script);
  return out;
}

}  // namespace orgquake::reports
