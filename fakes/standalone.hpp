#pragma once

#include <cstdint>
#include <iosfwd>
#include <string_view>

namespace orgquake::fakes {

/// Serves one fake ("stripe" or "litellm") on 127.0.0.1:`port` (0 picks a
/// free port) until SIGINT or SIGTERM, for `orgquake fake stripe|litellm`.
/// Prints the URL and credentials to `out` first. Expects
/// install_interrupt_handlers() to have run. Returns the process exit code.
/// Throws UsageError for an unknown kind and EnvironmentError when the port
/// cannot be bound.
int serve_standalone(std::string_view kind, std::uint16_t port, std::uint64_t seed,
                     std::ostream& out);
int serve_standalone(std::string_view kind, std::uint16_t port, std::uint64_t seed);

}  // namespace orgquake::fakes
