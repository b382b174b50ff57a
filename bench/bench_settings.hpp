#pragma once

namespace orgquake::bench {

/// How long orgquake_bench measures. --quick must finish within 60 s on the
/// 2-core CI machine, services and setup included; the full run trades time
/// for tighter medians.
struct BenchSettings {
  bool quick = false;
  int repetitions = 10;                ///< medians and noise are taken over these
  double min_time_s = 0.3;             ///< per repetition of one benchmark
  int migrations_per_repetition = 32;  ///< migrate/one_user uses up one user per iteration

  static BenchSettings for_mode(bool quick) {
    if (quick) return {true, 5, 0.05, 16};
    return {};
  }
};

}  // namespace orgquake::bench
