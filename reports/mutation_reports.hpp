#pragma once

// The files of `orgquake mutation-score`: mutation_score.json and a
// self-contained mutation_score.html whose table links to each run's own
// report.html (relative links, inside the output directory).
#include <filesystem>
#include <string>

#include "results/mutation_score.hpp"

namespace orgquake::reports {

std::string mutation_score_html(const results::MutationScore& score,
                                const std::filesystem::path& dir);

struct MutationFiles {
  std::filesystem::path json;
  std::filesystem::path html;
};

/// Writes both files into `dir` (created if missing), each whole or absent.
MutationFiles write_mutation_reports(const results::MutationScore& score,
                                     const std::filesystem::path& dir);

}  // namespace orgquake::reports
