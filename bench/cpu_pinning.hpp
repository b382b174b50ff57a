#pragma once

#include <sched.h>
#include <sys/types.h>

namespace orgquake::bench {

/// Which CPUs a thread or process may run on.
///
/// Why orgquake_bench pins: on the 2-vCPU CI machine a loopback round trip
/// between a client and a server on different vCPUs costs ~100 us when the
/// other vCPU has to be woken and ~30 us when both share one, and which of
/// the two a repetition gets is chance; floor/pg_select1's repetitions were
/// bimodal (28 us or 120 us) and its median flipped between runs, dragging
/// every ratio by 4x. With the benchmark thread and the server processes it
/// talks to (PostgreSQL backends, Redis, the fakes' threads) on one CPU the
/// floor holds at 30-31 us over 8 repetitions, and a single-client figure is
/// the work on both sides plus two context switches. The concurrent
/// clients' worker threads are given every CPU back.
class CpuAffinity {
 public:
  /// The calling thread's CPUs.
  static CpuAffinity of_this_thread();

  /// Binds the calling thread (pid 0) or the process `pid` to `cpu`;
  /// returns false (and changes nothing) if the kernel refuses.
  static bool pin(pid_t pid, int cpu);

  /// Gives the calling thread these CPUs.
  void apply_to_this_thread() const;

 private:
  cpu_set_t set_{};
};

}  // namespace orgquake::bench
