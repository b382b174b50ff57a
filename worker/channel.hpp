#pragma once

// The controller's link to one worker process: JSON messages, one per line,
// over a Unix stream socket. The same class serves both ends: the worker's
// fibers send and read through the fiber-aware io::wait_for, the controller
// polls many channels from one thread.

#include <optional>
#include <string>

#include <boost/fiber/mutex.hpp>
#include <nlohmann/json.hpp>

#include "migrator/io/reactor.hpp"

namespace orgquake::worker {

class Channel {
 public:
  /// Takes ownership of `fd` (a connected stream socket) and makes it
  /// nonblocking.
  explicit Channel(int fd);
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;
  ~Channel();

  /// A connected pair: [0] for the controller, [1] for the worker (close-on-exec).
  static std::pair<int, int> socket_pair();

  int fd() const { return fd_; }

  /// Writes one message whole, waiting (as a fiber, or in poll) while the
  /// socket is full, until `deadline` if one is given. Sends from several
  /// fibers never interleave. False if the peer is gone or did not read in
  /// time (the controller must not hang on a worker that stopped reading;
  /// a message cut off there leaves the channel unusable).
  bool send(const nlohmann::json& message, io::Deadline deadline = std::nullopt);

  /// Reads whatever has arrived without waiting. False once the peer has
  /// closed its end (messages already read stay available).
  bool read_available();
  /// Waits (as a fiber, or in poll) until something arrives, then reads it.
  /// False once the peer has closed.
  bool read_blocking();
  /// The next complete message, if one has arrived. Throws
  /// std::runtime_error for a line that is not JSON or is longer than
  /// max_message_bytes (the line is dropped).
  std::optional<nlohmann::json> next();
  bool peer_closed() const { return peer_closed_; }

 private:
  int fd_ = -1;
  std::string inbox_;
  std::size_t inbox_start_ = 0;
  bool peer_closed_ = false;
  boost::fibers::mutex send_mutex_;
};

}  // namespace orgquake::worker
