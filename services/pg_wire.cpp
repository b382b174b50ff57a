#include "services/pg_wire.hpp"

#include <fmt/format.h>

namespace orgquake::services::pg_wire {
namespace {

void put_u32(std::string& out, std::uint32_t value) {
  out.push_back(static_cast<char>((value >> 24) & 0xff));
  out.push_back(static_cast<char>((value >> 16) & 0xff));
  out.push_back(static_cast<char>((value >> 8) & 0xff));
  out.push_back(static_cast<char>(value & 0xff));
}

std::string message(char type, const std::string& body) {
  std::string out(1, type);
  put_u32(out, static_cast<std::uint32_t>(body.size() + 4));
  out += body;
  return out;
}

std::string cstring(const std::string& text) {
  std::string out = text;
  out.push_back('\0');
  return out;
}

}  // namespace

std::optional<StartupPacket> parse_startup(std::string_view body, std::string& error) {
  if (body.size() < 4) {
    error = "a start-up packet shorter than its code";
    return std::nullopt;
  }
  StartupPacket packet;
  packet.code = read_u32(body, 0);
  if (packet.code == kCancelRequest) {
    if (body.size() != 12) {
      error = fmt::format("a cancel request of {} bytes (12 expected)", body.size() + 4);
      return std::nullopt;
    }
    packet.cancel_pid = read_u32(body, 4);
    packet.cancel_key = read_u32(body, 8);
    return packet;
  }
  if (packet.code == kSslRequest || packet.code == kGssEncRequest) return packet;
  if (packet.code != kProtocol3) {
    error =
        fmt::format("protocol {}.{} (only 3.0 is spoken)", packet.code >> 16, packet.code & 0xffff);
    return std::nullopt;
  }
  // Name, value, name, value, ..., then an empty name.
  std::size_t at = 4;
  for (;;) {
    const auto name_end = body.find('\0', at);
    if (name_end == std::string_view::npos) {
      error = "start-up parameters without their terminator";
      return std::nullopt;
    }
    if (name_end == at) break;
    const auto value_end = body.find('\0', name_end + 1);
    if (value_end == std::string_view::npos) {
      error = "a start-up parameter without a value";
      return std::nullopt;
    }
    packet.parameters[std::string(body.substr(at, name_end - at))] =
        std::string(body.substr(name_end + 1, value_end - name_end - 1));
    at = value_end + 1;
  }
  if (!packet.parameters.contains("user")) {
    error = "no user in the start-up packet";
    return std::nullopt;
  }
  return packet;
}

std::string authentication_ok() {
  std::string body;
  put_u32(body, 0);
  return message('R', body);
}

std::string parameter_status(const std::string& name, const std::string& value) {
  return message('S', cstring(name) + cstring(value));
}

std::string backend_key_data(std::uint32_t pid, std::uint32_t key) {
  std::string body;
  put_u32(body, pid);
  put_u32(body, key);
  return message('K', body);
}

std::string ready_for_query(char status) {
  return message('Z', std::string(1, status));
}

std::string fatal_error(const std::string& code, const std::string& message_text) {
  const std::string body = "SFATAL" + std::string(1, '\0') + "VFATAL" + std::string(1, '\0') + "C" +
                           cstring(code) + "M" + cstring(message_text) + std::string(1, '\0');
  return message('E', body);
}

}  // namespace orgquake::services::pg_wire
