#include "results/shard_merge.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::results {
namespace {

// What every shard of one run shares, and what the first shard says it is.
void require_same(const ShardRun& first, const ShardRun& other, const char* what, bool same,
                  const std::string& first_value, const std::string& other_value) {
  if (same) return;
  throw UsageError(fmt::format("{}: {} is {}, but {} has {}: not shards of one run", other.source,
                               what, other_value, first.source, first_value));
}

}  // namespace

RunResult merge_shards(std::vector<ShardRun> shards) {
  if (shards.empty()) throw UsageError("merge: no shard directories given");
  for (const auto& shard : shards) {
    if (!shard.run.shard) {
      throw UsageError(
          fmt::format("{}: not a shard (it was not run with --shard K/N)", shard.source));
    }
  }
  const ShardRun& first = shards.front();
  const int count = first.run.shard->count;
  std::map<int, const ShardRun*> by_number;
  for (const auto& shard : shards) {
    const auto& run = shard.run;
    require_same(first, shard, "the shard count", run.shard->count == count, std::to_string(count),
                 std::to_string(run.shard->count));
    require_same(first, shard, "the seed", run.seed == first.run.seed,
                 std::to_string(first.run.seed), std::to_string(run.seed));
    require_same(first, shard, "the suite", run.suite == first.run.suite, first.run.suite,
                 run.suite);
    require_same(first, shard, "the migrator",
                 run.migrator == first.run.migrator &&
                     run.migrator_declaration == first.run.migrator_declaration,
                 first.run.migrator, run.migrator);
    require_same(first, shard, "the commit", run.git_sha == first.run.git_sha, first.run.git_sha,
                 run.git_sha);
    require_same(first, shard, "the suite's spec", run.spec == first.run.spec, "one spec",
                 "another");
    require_same(first, shard, "the fixture size", run.users == first.run.users,
                 std::to_string(first.run.users), std::to_string(run.users));
    const auto pooling = [](const RunResult& r) {
      return r.session_pool ? "the session pool" : "sessions of their own";
    };
    require_same(first, shard, "how clients reached PostgreSQL",
                 run.session_pool == first.run.session_pool, pooling(first.run), pooling(run));
    const auto [where, inserted] = by_number.emplace(run.shard->index, &shard);
    if (!inserted) {
      throw UsageError(fmt::format("{}: shard {}/{} is given twice (also {})", shard.source,
                                   run.shard->index, count, where->second->source));
    }
  }
  for (int number = 1; number <= count; ++number) {
    if (!by_number.contains(number)) {
      throw UsageError(fmt::format("merge: shard {}/{} is missing ({} of {} given)", number, count,
                                   shards.size(), count));
    }
  }

  RunResult merged = first.run;
  merged.shard.reset();
  merged.trials.clear();
  merged.verdict = Validity::valid;
  merged.duration_s = 0;
  std::map<int, const std::string*> source_of_trial;
  for (auto& shard : shards) {
    merged.started_at = std::min(merged.started_at, shard.run.started_at);
    merged.duration_s = std::max(merged.duration_s, shard.run.duration_s);
    merged.verdict = std::max(merged.verdict, shard.run.verdict);
    for (auto& trial : shard.run.trials) {
      if (trial.index % count != shard.run.shard->index - 1) {
        throw UsageError(fmt::format("{}: trial {} does not belong to shard {}/{}", shard.source,
                                     trial.index, shard.run.shard->index, count));
      }
      if (const auto [where, inserted] = source_of_trial.emplace(trial.index, &shard.source);
          !inserted) {
        throw UsageError(
            fmt::format("{}: trial {} is also in {}", shard.source, trial.index, *where->second));
      }
      merged.verdict = std::max(merged.verdict, trial.verdict);
      merged.trials.push_back(std::move(trial));
    }
  }
  std::sort(merged.trials.begin(), merged.trials.end(),
            [](const TrialResult& a, const TrialResult& b) { return a.index < b.index; });
  return merged;
}

}  // namespace orgquake::results
