#include "bench/cpu_pinning.hpp"

namespace orgquake::bench {

CpuAffinity CpuAffinity::of_this_thread() {
  CpuAffinity affinity;
  CPU_ZERO(&affinity.set_);
  sched_getaffinity(0, sizeof affinity.set_, &affinity.set_);
  return affinity;
}

bool CpuAffinity::pin(pid_t pid, int cpu) {
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(cpu, &one);
  return sched_setaffinity(pid, sizeof one, &one) == 0;
}

void CpuAffinity::apply_to_this_thread() const {
  sched_setaffinity(0, sizeof set_, &set_);
}

}  // namespace orgquake::bench
