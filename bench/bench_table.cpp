#include "bench/bench_table.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "bench/floor_ratio.hpp"

namespace orgquake::bench {
namespace {

std::string figure_text(const std::optional<Figure>& figure) {
  if (!figure) return "-";
  return figure->is_ratio ? fmt::format("{:.2f}x", figure->value)
                          : human_nanoseconds(figure->value);
}

std::string counter_us(const BenchResult& result, const char* key) {
  const auto value = result.counter(key);
  return value ? human_nanoseconds(*value * 1e3) : "";
}

const Comparison* comparison_for(const std::vector<Comparison>* comparisons,
                                 const std::string& name) {
  if (comparisons == nullptr) return nullptr;
  for (const auto& c : *comparisons) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

}  // namespace

std::string human_nanoseconds(double ns) {
  if (ns < 10) return fmt::format("{:.2f} ns", ns);
  if (ns < 1e3) return fmt::format("{:.0f} ns", ns);
  if (ns < 1e4) return fmt::format("{:.2f} us", ns / 1e3);
  if (ns < 1e6) return fmt::format("{:.1f} us", ns / 1e3);
  if (ns < 1e9) return fmt::format("{:.2f} ms", ns / 1e6);
  return fmt::format("{:.2f} s", ns / 1e9);
}

std::string format_table(const BenchRun& run, const std::vector<Comparison>* comparisons) {
  std::size_t width = 9;
  for (const auto& r : run.results) width = std::max(width, r.name.size());
  std::string out = fmt::format("{:<{}}  {:>10}  {:>8}  {:>6}  {:>10}  {:>10}  {:>13}", "benchmark",
                                width, "median", "x floor", "noise", "p50", "p99", "lookups/s");
  if (comparisons != nullptr) {
    out += fmt::format("  {:>9}  {:>7}  {:>7}  {}", "baseline", "change", "margin", "verdict");
  }
  out += '\n';
  for (const auto& r : run.results) {
    const auto figure = figure_of(run, r);
    const std::string ratio = r.error                      ? "error"
                              : is_floor(r.name)           ? "floor"
                              : figure && figure->is_ratio ? fmt::format("{:.2f}", figure->value)
                                                           : "-";
    const auto rate = r.counter("lookups_per_s");
    out += fmt::format("{:<{}}  {:>10}  {:>8}  {:>5.1f}%  {:>10}  {:>10}  {:>13}", r.name, width,
                       r.error ? "-" : human_nanoseconds(r.median_ns), ratio, r.noise * 100,
                       counter_us(r, "p50_us"), counter_us(r, "p99_us"),
                       rate ? fmt::format("{:.0f}", *rate) : "");
    if (const Comparison* c = comparison_for(comparisons, r.name)) {
      const bool measured = c->baseline && c->current;
      out +=
          fmt::format("  {:>9}  {:>7}  {:>7}  {}", figure_text(c->baseline),
                      measured ? fmt::format("{:+.1f}%", c->change * 100) : "",
                      measured ? fmt::format("{:.0f}%", c->margin * 100) : "", name_of(c->verdict));
    }
    if (r.error) out += fmt::format("  ({})", *r.error);
    out += '\n';
  }
  if (comparisons != nullptr) {
    for (const auto& c : *comparisons) {
      if (c.verdict == Comparison::Verdict::missing) {
        out += fmt::format("{:<{}}  not in this run (baseline {})\n", c.name, width,
                           figure_text(c.baseline));
      }
    }
  }
  return out;
}

}  // namespace orgquake::bench
