#include "services/server_log.hpp"

#include <fstream>

namespace orgquake::services {

std::string explain_from_log(const std::filesystem::path& log_file) {
  std::ifstream in(log_file);
  std::string line, last, last_severe;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    last = line;
    if (line.find("FATAL") != std::string::npos || line.find("PANIC") != std::string::npos ||
        line.find("ERROR") != std::string::npos || line.find(" # ") != std::string::npos ||
        line.find("initdb: error") != std::string::npos) {
      last_severe = line;
    }
  }
  return last_severe.empty() ? last : last_severe;
}

bool log_says_address_in_use(const std::filesystem::path& log_file) {
  std::ifstream in(log_file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("Address already in use") != std::string::npos) return true;
  }
  return false;
}

}  // namespace orgquake::services
