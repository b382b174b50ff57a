#pragma once

// Joining the shards of one run (`orgquake run --shard K/N`, one machine
// each) back into the run a single machine would have made: `orgquake merge`.

#include <string>
#include <vector>

#include "results/run_result.hpp"

namespace orgquake::results {

/// A shard as read from its directory; `source` names it in messages.
struct ShardRun {
  std::string source;
  RunResult run;
};

/// The run the shards are slices of: every trial of every shard, in index
/// order, the worst verdict, the earliest start, and the longest shard's
/// duration (the matrix's wall time when the shards ran side by side). The
/// result is not a shard. Throws UsageError, one line naming the shard at
/// fault, unless the shards are exactly shards 1..N of one N, of the same
/// seed, suite, spec, migrator and commit, with disjoint trials.
RunResult merge_shards(std::vector<ShardRun> shards);

}  // namespace orgquake::results
