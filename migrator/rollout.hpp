#pragma once

// The feature flag of the migration guide's gradual rollout (schema file
// 0004_rollout_flag.sql): which users a request serves through the
// organization model. The rule that places a user in the rollout is part of
// the worker protocol (docs/worker-protocol.md, "The rollout flag"): the
// harness judges every migrator's requests by it, whatever its language.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "migrator/io/pg_connection.hpp"

namespace orgquake::migrator {

/// The flag's row in rollout_flag.
inline constexpr std::string_view org_path_flag = "org_path";

struct RolloutFlag {
  int percentage = 0;                   ///< 0..100: users whose bucket is below it
  std::vector<std::string> allow_list;  ///< legacy user ids in the rollout whatever their bucket
  std::int64_t version = 0;             ///< grows with every change; 0 is the schema's state
  bool operator==(const RolloutFlag&) const = default;
};

/// The user's place in the rollout, 0..99: FNV-1a (64 bits) of "org_path:"
/// followed by the id, modulo 100. A percentage p covers buckets 0..p-1, so
/// widening the rollout only ever adds users.
int rollout_bucket(std::string_view legacy_user_id);

/// Whether the flag serves the user through the org path.
bool in_rollout(const RolloutFlag& flag, std::string_view legacy_user_id);

/// The flag as a request reads it: one statement, every request.
RolloutFlag read_rollout_flag(io::PgConnection& pg);

}  // namespace orgquake::migrator
