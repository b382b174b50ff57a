#pragma once

#include <cstdint>

#include "core/error.hpp"

namespace orgquake::services {

/// A TCP port on 127.0.0.1 that nothing listens on right now, below the
/// kernel's ephemeral range when it can be. Another process may still take it before we do, so a
/// server started on it must treat "address in use" as a reason to retry.
std::uint16_t pick_free_loopback_port();

/// True if 127.0.0.1:`port` can be bound now.
bool loopback_port_free(std::uint16_t port);

/// A server could not bind its port.
class PortInUse : public EnvironmentError {
 public:
  explicit PortInUse(std::uint16_t port);
};

/// Throws PortInUse if a port the user asked for is taken.
void require_free_loopback_port(std::uint16_t port);

}  // namespace orgquake::services
