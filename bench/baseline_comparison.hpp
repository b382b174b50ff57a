#pragma once

#include <optional>
#include <string>
#include <vector>

#include "bench/bench_results.hpp"
#include "bench/floor_ratio.hpp"

namespace orgquake::bench {

/// How one benchmark moved between a stored baseline and this run.
struct Comparison {
  enum class Verdict {
    unchanged,   ///< within the noise margin
    faster,      ///< better by more than the margin
    regressed,   ///< worse by more than the margin: fails the comparison
    failed,      ///< the benchmark reported an error in this run: fails the comparison
    missing,     ///< in the baseline, not in this run (filtered out or removed)
    new_in_run,  ///< in this run, not in the baseline
  };
  std::string name;
  Verdict verdict = Verdict::unchanged;
  std::optional<Figure> baseline, current;
  double change = 0;  ///< current / baseline - 1
  double margin = 0;  ///< the relative change tolerated as noise
};

const char* name_of(Comparison::Verdict verdict);

/// The smallest margin for a ratio to the floor. Repetitions measure the
/// noise inside one run; a baseline recorded at another time also differs
/// by drift that no single run sees (other tenants of the machine, CPU
/// frequency, the database's caches). Measured on the 2-vCPU CI machine
/// while other builds ran (load average 3-5): across four pinned --quick
/// runs within six minutes, the worst change of each benchmark's ratio
/// between any two runs had a median of 35% and reached 95%
/// (lookup/concurrent/clients:1), while each run's repetitions spread by
/// 1-40%. Below a doubling such a machine cannot tell a regression from a
/// neighbour's compile job; a doubling still catches what these benchmarks
/// guard against (N+1 loading creeping back costs 8x at 16 memberships, a
/// lost plan or index several times over). On a quiet machine the figures
/// are tighter and this floor is what binds.
inline constexpr double kMinimumMargin = 1.0;

/// The smallest margin for a figure with no floor (failpoint/*): nothing
/// divides out the machine, and a loop of a few cycles moves with CPU
/// frequency and whatever shares the core; failpoint/disarmed measured 0.34
/// and 0.92 ns in two --quick runs a minute apart. Only a tripling counts,
/// which still catches what matters there (a disarmed failpoint taking a
/// lock costs tens of nanoseconds).
inline constexpr double kMinimumMarginWithoutFloor = 2.0;

/// How many combined standard deviations a change must exceed to count.
inline constexpr double kNoiseSigmas = 3.0;

/// Compares each benchmark's figure (its ratio to its floor, or its time when
/// it has none) in `current` with the same benchmark in `baseline`.
///
/// The rule: a benchmark regressed when
///   current > baseline * (1 + margin),
///   margin = max(minimum, kNoiseSigmas * hypot(noise_baseline, noise_current)),
///   minimum = kMinimumMargin for a ratio, kMinimumMarginWithoutFloor otherwise,
/// where each run's noise is the relative spread of the benchmark's
/// repetitions combined with its floor's (Figure::noise, from the median
/// absolute deviation). The figure is a median over repetitions, whose
/// spread is smaller than one repetition's, so the margin errs towards
/// passing a noisy benchmark rather than failing a quiet one. Floors are the yardstick, not the
/// subject: they are listed but never regress.
std::vector<Comparison> compare_runs(const BenchRun& baseline, const BenchRun& current);

/// True when any comparison regressed or failed: `orgquake bench --compare` exits 1.
bool any_regression(const std::vector<Comparison>& comparisons);

}  // namespace orgquake::bench
