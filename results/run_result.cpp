#include "results/run_result.hpp"

namespace orgquake::results {

nlohmann::json TrialStats::to_json() const {
  return {{"max_concurrent_lookups", max_concurrent_lookups},
          {"lock_waits", lock_waits},
          {"crashes", crashes},
          {"pauses", pauses},
          {"operations", operations},
          {"ok", ok},
          {"failed", failed},
          {"unknown_outcome", unknown_outcome},
          {"faults", faults},
          {"failpoint_hits", failpoint_hits}};
}

}  // namespace orgquake::results
