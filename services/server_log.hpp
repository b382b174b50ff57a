#pragma once

#include <filesystem>
#include <string>

namespace orgquake::services {

/// The line of a server's log that best explains why it failed: the last
/// FATAL/PANIC/ERROR line (or redis's "#" warnings), else the last line.
/// Empty if the log is empty or missing. Used to turn a dead child into one
/// clear error line.
std::string explain_from_log(const std::filesystem::path& log_file);

/// True if the log says the listening address was taken.
bool log_says_address_in_use(const std::filesystem::path& log_file);

}  // namespace orgquake::services
