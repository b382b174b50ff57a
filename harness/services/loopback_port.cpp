#include "harness/services/loopback_port.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "harness/core/error.hpp"

namespace orgquake::services {
namespace {

// Binds 127.0.0.1:port (0 = any) and returns the bound port, or 0 on failure.
std::uint16_t try_bind(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("cannot create a socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::uint16_t bound = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0) {
    socklen_t length = sizeof address;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0) {
      bound = ntohs(address.sin_port);
    }
  }
  close(fd);
  return bound;
}

}  // namespace

std::uint16_t pick_free_loopback_port() {
  std::uint16_t port = try_bind(0);
  if (port == 0) throw_errno("cannot find a free loopback port");
  return port;
}

bool loopback_port_free(std::uint16_t port) {
  return try_bind(port) == port;
}

PortInUse::PortInUse(std::uint16_t port)
    : EnvironmentError("port " + std::to_string(port) +
                       " on 127.0.0.1 is already in use; pick another (or omit the port to let "
                       "orgquake choose)") {}

void require_free_loopback_port(std::uint16_t port) {
  if (!loopback_port_free(port)) throw PortInUse(port);
}

}  // namespace orgquake::services
