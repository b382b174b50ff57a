#include "worker/channel.hpp"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include "core/error.hpp"
#include "migrator/io/reactor.hpp"
#include "worker/worker_protocol.hpp"

namespace orgquake::worker {

Channel::Channel(int fd) : fd_(fd) {
  const int flags = fcntl(fd_, F_GETFL);
  fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
}

Channel::~Channel() {
  if (fd_ >= 0) {
    if (io::reactor_installed()) io::forget(fd_);
    ::close(fd_);
  }
}

std::pair<int, int> Channel::socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    throw EnvironmentError(std::string("cannot create a worker channel: ") + std::strerror(errno));
  }
  return {fds[0], fds[1]};
}

bool Channel::send(const nlohmann::json& message, io::Deadline deadline) {
  std::string line = message.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  line += '\n';
  std::unique_lock lock(send_mutex_);
  std::size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!io::wait_for(fd_, io::Interest::writable, deadline)) return false;
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else {
      return false;  // EPIPE, ECONNRESET: the peer is gone
    }
  }
  return true;
}

bool Channel::read_available() {
  char buffer[64 * 1024];
  for (;;) {
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) {
      inbox_.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      peer_closed_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    peer_closed_ = true;  // ECONNRESET: a killed peer
    return false;
  }
}

bool Channel::read_blocking() {
  if (peer_closed_) return false;
  io::wait_for(fd_, io::Interest::readable, std::nullopt);
  return read_available();
}

std::optional<nlohmann::json> Channel::next() {
  const auto end = inbox_.find('\n', inbox_start_);
  if (end == std::string::npos && inbox_.size() - inbox_start_ > max_message_bytes) {
    inbox_.clear();
    inbox_start_ = 0;
    throw std::runtime_error("a line longer than 1 MiB");
  }
  if (end == std::string::npos) {
    // Keep the buffer from growing by what has been consumed.
    if (inbox_start_ > 0) {
      inbox_.erase(0, inbox_start_);
      inbox_start_ = 0;
    }
    return std::nullopt;
  }
  const std::string_view line(inbox_.data() + inbox_start_, end - inbox_start_);
  inbox_start_ = end + 1;
  try {
    return nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    std::string start(line.substr(0, 80));
    throw std::runtime_error(fmt::format("a line that is not JSON: \"{}{}\"", start,
                                         line.size() > start.size() ? "..." : ""));
  }
}

}  // namespace orgquake::worker
