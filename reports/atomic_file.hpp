#pragma once

#include <filesystem>
#include <string_view>

namespace orgquake::reports {

/// Writes `content` to a temporary file beside `target`, flushes it to disk
/// and renames it over `target`: a reader sees the old file or the whole new
/// one, even across a power cut. Throws EnvironmentError (core/error.hpp)
/// naming the path and the system's reason.
void write_file_atomically(const std::filesystem::path& target, std::string_view content);

}  // namespace orgquake::reports
