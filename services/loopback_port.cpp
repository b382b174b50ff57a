#include "services/loopback_port.hpp"

#include <arpa/inet.h>
#include <fstream>
#include <netinet/in.h>
#include <random>
#include <string>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.hpp"

namespace orgquake::services {
namespace {

// Binds 127.0.0.1:port (0 = any) and returns the bound port, or 0 on failure.
// SO_REUSEADDR as Redis and PostgreSQL set it on their listeners: a server
// stopped and started again (a Redis outage) leaves its old connections in
// TIME_WAIT, which bars a plain bind but not the server's own.
std::uint16_t try_bind(std::uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("cannot create a socket");
  const int reuse = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
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

// The lowest port the kernel hands out for outgoing connections.
std::uint16_t ephemeral_range_start() {
  std::ifstream range("/proc/sys/net/ipv4/ip_local_port_range");
  unsigned low = 0;
  if (!(range >> low) || low > 65535) return 32768;
  return static_cast<std::uint16_t>(low);
}

}  // namespace

std::uint16_t pick_free_loopback_port() {
  // Below the ephemeral range: a server that is stopped and started again on
  // its port (a Redis outage) must not find it taken by some client's
  // outgoing connection meanwhile, which a port from the ephemeral range
  // invites when hundreds of clients reconnect.
  const std::uint16_t high = ephemeral_range_start();
  constexpr std::uint16_t low = 20000;
  if (high > low + 1000) {
    std::random_device entropy;
    for (int attempt = 0; attempt < 64; ++attempt) {
      const auto port = static_cast<std::uint16_t>(low + entropy() % (high - low));
      if (try_bind(port) == port) return port;
    }
  }
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
