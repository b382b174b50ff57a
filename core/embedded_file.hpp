#pragma once

#include <string_view>

namespace orgquake {

/// A text file compiled into the binary by cmake/EmbedText.cmake.
struct EmbeddedFile {
  std::string_view name;
  std::string_view content;
};

}  // namespace orgquake
