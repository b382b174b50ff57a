#pragma once

#include <string>

namespace orgquake {

/// A message from a library or a program (libpq's, a server's, a command's
/// output) as one line: trailing newlines and spaces dropped, inner newlines
/// turned into spaces. Every error orgquake prints is one line.
std::string one_line(std::string text);

}  // namespace orgquake
