#include "bench/floor_ratio.hpp"

#include <cmath>

namespace orgquake::bench {

bool is_floor(std::string_view name) {
  return name.substr(0, 6) == "floor/";
}

std::optional<std::string> floor_for(std::string_view name) {
  if (name.substr(0, 7) == "lookup/" || name.substr(0, 8) == "migrate/") {
    return std::string("floor/pg_select1");
  }
  return std::nullopt;
}

std::optional<Figure> figure_of(const BenchRun& run, const BenchResult& result) {
  if (result.error || result.repetition_ns.empty()) return std::nullopt;
  const auto floor_name = floor_for(result.name);
  if (!floor_name) return Figure{result.median_ns, false, result.noise};
  const BenchResult* floor = run.find(*floor_name);
  if (floor == nullptr || floor->error || floor->median_ns <= 0) return std::nullopt;
  return Figure{result.median_ns / floor->median_ns, true, std::hypot(result.noise, floor->noise)};
}

}  // namespace orgquake::bench
