#pragma once

// The few pieces of PostgreSQL's frontend/backend protocol (version 3) that
// the session pool speaks itself: the start-up packet, the handshake a server
// sends once a session is ready, an error, and message framing, so that a
// relayed stream can be watched without being buffered.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace orgquake::services::pg_wire {

/// Start-up packet codes (the int32 after the length).
inline constexpr std::uint32_t kProtocol3 = 196608;  // 3.0
inline constexpr std::uint32_t kCancelRequest = 80877102;
inline constexpr std::uint32_t kSslRequest = 80877103;
inline constexpr std::uint32_t kGssEncRequest = 80877104;

/// A start-up packet, read whole: its code and what follows.
struct StartupPacket {
  std::uint32_t code = 0;
  /// Protocol 3.0: the parameters (user, database, application_name, ...).
  std::map<std::string, std::string> parameters;
  /// CancelRequest: the backend's process id and secret key.
  std::uint32_t cancel_pid = 0;
  std::uint32_t cancel_key = 0;
};

/// The big-endian int32 at `bytes[at..at+4)`, as the protocol sends lengths and codes.
inline std::uint32_t read_u32(std::string_view bytes, std::size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at])) << 24) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 1])) << 16) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 2])) << 8) |
         static_cast<std::uint32_t>(static_cast<unsigned char>(bytes[at + 3]));
}

/// Parses the body of a start-up packet (without its length word). Returns
/// nullopt and says why in `error` when it is malformed.
std::optional<StartupPacket> parse_startup(std::string_view body, std::string& error);

/// Backend messages, whole and framed.
std::string authentication_ok();
std::string parameter_status(const std::string& name, const std::string& value);
std::string backend_key_data(std::uint32_t pid, std::uint32_t key);
std::string ready_for_query(char status);
/// An ErrorResponse of severity FATAL with SQLSTATE `code`.
std::string fatal_error(const std::string& code, const std::string& message);

/// Follows the message boundaries of one direction of a session, fed the
/// bytes as they pass. It keeps only a message's 5-byte header, so a relay
/// can watch a stream of any size. For a whole message of a chosen type it
/// can also drop the bytes (the frontend's Terminate, which must not reach a
/// pooled server session).
class MessageFramer {
 public:
  /// Types whose whole messages are left out of forward()'s output.
  explicit MessageFramer(std::string_view dropped_types = {}) : dropped_(dropped_types) {}

  /// Feeds `bytes`, calls on_message(type, first_body_byte_or_-1) for every
  /// message whose header completes, and appends to `out` the bytes to pass on.
  template <typename OnMessage>
  void forward(std::string_view bytes, std::string& out, OnMessage&& on_message);

  /// True between messages: nothing of a message is pending.
  bool at_boundary() const { return header_used_ == 0 && body_left_ == 0 && !status_wanted_; }

 private:
  std::string_view dropped_;
  char header_[5]{};
  std::size_t header_used_ = 0;
  std::uint64_t body_left_ = 0;
  bool dropping_ = false;
  bool status_wanted_ = false;  // the header completed; its first body byte is still to come
  char pending_type_ = 0;
};

template <typename OnMessage>
void MessageFramer::forward(std::string_view bytes, std::string& out, OnMessage&& on_message) {
  std::size_t i = 0;
  while (i < bytes.size()) {
    if (body_left_ > 0) {
      const std::size_t take =
          static_cast<std::size_t>(std::min<std::uint64_t>(body_left_, bytes.size() - i));
      if (status_wanted_) {
        status_wanted_ = false;
        on_message(pending_type_, static_cast<int>(static_cast<unsigned char>(bytes[i])));
      }
      if (!dropping_) out.append(bytes.data() + i, take);
      body_left_ -= take;
      i += take;
      continue;
    }
    header_[header_used_++] = bytes[i++];
    if (header_used_ < 5) continue;
    header_used_ = 0;
    const auto length = read_u32(std::string_view(header_, 5), 1);
    // The length counts itself; a value below 4 is a broken stream, taken
    // as an empty body so that framing goes on rather than wedging.
    body_left_ = length >= 4 ? length - 4 : 0;
    dropping_ = dropped_.find(header_[0]) != std::string_view::npos;
    if (!dropping_) out.append(header_, 5);
    if (body_left_ == 0) {
      on_message(header_[0], -1);
    } else {
      status_wanted_ = true;
      pending_type_ = header_[0];
    }
  }
}

}  // namespace orgquake::services::pg_wire
