#pragma once

// The states of the rollout flag a trial went through, read from the
// history's `rollout` events (Trial::set_rollout_flag), for the rollout
// invariants: each request is judged by the state it says it read, and by
// the protocol's rule of who is in the rollout (docs/worker-protocol.md,
// "The rollout flag"). The rule is written here again on purpose, apart from
// the reference migrator's (migrator/rollout.hpp): the judge must not share
// a bug with the code it judges.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "history/history.hpp"

namespace orgquake::invariants {

/// One state of the flag, as the controller set it.
struct FlagState {
  std::int64_t version = 0;
  int percentage = 0;
  std::vector<std::string> allow_list;
  /// Allow-listed, or FNV-1a 64 of "org_path:" + id, modulo 100, below the percentage.
  bool covers(std::string_view legacy_user_id) const;
};

class RolloutFlags {
 public:
  /// Version 0 is the schema's state (0 %, nobody allow-listed); the others
  /// are the history's flag events.
  explicit RolloutFlags(const history::History& history);
  /// The state of that version; nullopt for a version the controller never set.
  std::optional<FlagState> at(std::int64_t version) const;
  /// Whether any state of the trial put the user in the rollout.
  bool ever_covered(std::string_view legacy_user_id) const;

 private:
  std::map<std::int64_t, FlagState> states_;
};

/// Whether the history has requests served under the flag (op `serve`).
bool has_serves(const history::History& history);

}  // namespace orgquake::invariants
