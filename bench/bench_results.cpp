#include "bench/bench_results.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <iterator>
#include <limits>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::bench {

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t mid = values.size() / 2;
  return values.size() % 2 == 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

namespace {

// Entry keys that describe the run rather than count something.
constexpr std::array kNonCounterKeys = {"name",
                                        "family_index",
                                        "per_family_instance_index",
                                        "run_name",
                                        "run_type",
                                        "repetitions",
                                        "repetition_index",
                                        "threads",
                                        "iterations",
                                        "real_time",
                                        "cpu_time",
                                        "time_unit",
                                        "aggregate_name",
                                        "aggregate_unit",
                                        "error_occurred",
                                        "error_message",
                                        "label",
                                        "big_o",
                                        "rms"};

bool is_counter_key(const std::string& key) {
  return std::find(kNonCounterKeys.begin(), kNonCounterKeys.end(), key) == kNonCounterKeys.end();
}

double nanoseconds_per(const std::string& unit) {
  if (unit == "ns") return 1;
  if (unit == "us") return 1e3;
  if (unit == "ms") return 1e6;
  if (unit == "s") return 1e9;
  throw UsageError(fmt::format("unknown time_unit '{}' in benchmark JSON", unit));
}

bool starts_with_any(std::string_view segment, std::initializer_list<std::string_view> prefixes) {
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view p) { return segment.substr(0, p.size()) == p; });
}

double relative_spread(const std::vector<double>& values) {
  if (values.size() < 3) return 0;
  const double middle = median(values);
  if (middle <= 0) return 0;
  std::vector<double> deviations;
  for (double v : values) deviations.push_back(std::abs(v - middle));
  // 1.4826: the median absolute deviation of normal noise is 0.6745 sigma.
  return 1.4826 * median(std::move(deviations)) / middle;
}

// Google Benchmark writes NaN and Infinity as bare words (the cv aggregate
// of a counter that is always 0 is 0/0), which JSON does not allow; as
// values they become null, which the counters then skip.
std::string without_non_finite_numbers(std::string text) {
  for (const std::string_view word : {"-NaN", "NaN", "-Infinity", "Infinity"}) {
    const std::string pattern = std::string("\": ") + std::string(word);
    for (auto at = text.find(pattern); at != std::string::npos; at = text.find(pattern, at)) {
      const auto end = at + pattern.size();
      if (end < text.size() && text[end] != ',' && text[end] != '\n' && text[end] != '}') {
        at = end;
        continue;
      }
      text.replace(at + 3, word.size(), "null");
    }
  }
  return text;
}

// What the entries of one family hold before they are summarized.
struct Collected {
  std::optional<std::int64_t> family_index;  ///< registration order
  std::vector<double> repetition_ns;
  std::map<std::string, std::vector<double>> counters;
  std::optional<std::string> error;
};

}  // namespace

std::optional<double> BenchResult::counter(std::string_view key) const {
  const auto it = counters.find(std::string(key));
  if (it == counters.end()) return std::nullopt;
  return it->second;
}

const BenchResult* BenchRun::find(std::string_view name) const {
  for (const auto& r : results) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

std::string family_name(std::string_view run_name) {
  std::string_view name = run_name;
  while (true) {
    const auto slash = name.rfind('/');
    if (slash == std::string_view::npos) break;
    const std::string_view segment = name.substr(slash + 1);
    const bool setting =
        segment == "real_time" || segment == "manual_time" || segment == "process_time" ||
        starts_with_any(segment,
                        {"iterations:", "repeats:", "min_time:", "threads:", "min_warmup_time:"});
    if (!setting) break;
    name = name.substr(0, slash);
  }
  return std::string(name);
}

BenchRun parse_bench_json(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("benchmarks") || !json["benchmarks"].is_array()) {
    throw UsageError("not Google Benchmark JSON output: no \"benchmarks\" array");
  }
  BenchRun run;
  if (json.contains("context") && json["context"].is_object()) {
    for (const auto& [key, value] : json["context"].items()) {
      if (value.is_string()) run.context[key] = value.get<std::string>();
    }
    const auto& load = json["context"].value("load_avg", nlohmann::json::array());
    for (const auto& v : load) {
      if (v.is_number()) run.load_average.push_back(v.get<double>());
    }
  }
  std::vector<std::string> order;
  std::map<std::string, Collected> families;
  for (const auto& entry : json["benchmarks"]) {
    // Aggregates (mean, median, stddev, cv) are recomputed from the
    // repetitions, which are always there.
    if (entry.value("run_type", "iteration") != "iteration") continue;
    const std::string name = family_name(entry.value("run_name", entry.value("name", "")));
    if (name.empty()) throw UsageError("benchmark JSON entry without a name");
    auto [it, inserted] = families.try_emplace(name);
    if (inserted) order.push_back(name);
    Collected& family = it->second;
    if (entry.contains("family_index") && entry["family_index"].is_number_integer()) {
      family.family_index = entry["family_index"].get<std::int64_t>();
    }
    if (entry.value("error_occurred", false)) {
      if (!family.error) family.error = entry.value("error_message", "error");
      continue;
    }
    // orgquake_bench reports failed operations in an `errors` counter (see
    // concurrent_lookup_benchmarks.cpp for why not as a skipped run).
    if (const auto errors = entry.find("errors"); errors != entry.end() && errors->is_number() &&
                                                  errors->get<double>() > 0 && !family.error) {
      family.error = fmt::format("{:.0f} operations failed in a repetition; see the benchmark log",
                                 errors->get<double>());
    }
    const double scale = nanoseconds_per(entry.value("time_unit", "ns"));
    family.repetition_ns.push_back(entry.at("real_time").get<double>() * scale);
    for (const auto& [key, value] : entry.items()) {
      if (value.is_number() && is_counter_key(key)) {
        family.counters[key].push_back(value.get<double>());
      }
    }
  }
  // Registration order, not run order: random interleaving shuffles the
  // entries, and a table reads best in the order the families were declared.
  std::stable_sort(order.begin(), order.end(), [&](const std::string& a, const std::string& b) {
    const auto index = [&](const std::string& n) {
      return families[n].family_index.value_or(std::numeric_limits<std::int64_t>::max());
    };
    return index(a) < index(b);
  });
  for (const auto& name : order) {
    Collected& family = families[name];
    BenchResult result;
    result.name = name;
    result.median_ns = median(family.repetition_ns);
    result.noise = relative_spread(family.repetition_ns);
    result.repetition_ns = std::move(family.repetition_ns);
    for (auto& [key, values] : family.counters) result.counters[key] = median(std::move(values));
    result.error = family.error;
    run.results.push_back(std::move(result));
  }
  return run;
}

BenchRun read_bench_json(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) {
    throw UsageError(
        fmt::format("cannot read benchmark results {}; give a file that `orgquake "
                    "bench --json FILE` wrote",
                    path.string()));
  }
  const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  nlohmann::json json;
  try {
    json = nlohmann::json::parse(without_non_finite_numbers(text));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("{} is not valid JSON: {}", path.string(), e.what()));
  }
  try {
    return parse_bench_json(json);
  } catch (const UsageError& e) {
    throw UsageError(fmt::format("{}: {}", path.string(), e.what()));
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("{}: malformed benchmark entry: {}", path.string(), e.what()));
  }
}

}  // namespace orgquake::bench
