#include "core/error.hpp"

#include <cerrno>
#include <cstring>

namespace orgquake {

std::string errno_message(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

void throw_errno(const std::string& what) {
  throw EnvironmentError(errno_message(what, errno));
}

}  // namespace orgquake
