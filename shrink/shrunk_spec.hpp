#pragma once

// The spec file a shrink leaves behind: a suite of one trial that
// `orgquake run --spec FILE` replays, with the reduced plan in its
// [scenarios.NAME.replay] table and the story on top as comments.

#include <string>
#include <vector>

#include "shrink/shrink_target.hpp"

namespace orgquake::shrink {

/// The TOML text. `comments` go on top, one `# ` line each.
std::string shrunk_spec_toml(const ShrinkTarget& target, const Candidate& candidate,
                             const std::vector<std::string>& comments);

}  // namespace orgquake::shrink
