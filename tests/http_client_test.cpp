#define BOOST_TEST_MODULE orgquake http client
#include "migrator/io/http_client.hpp"

#include <arpa/inet.h>
#include <atomic>
#include <functional>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

#include <boost/fiber/all.hpp>
#include <boost/test/unit_test.hpp>

#include "migrator/io/reactor.hpp"
#include "services/loopback_port.hpp"

using namespace orgquake;
using namespace std::chrono_literals;

namespace {

// A raw HTTP server on loopback whose answers a test scripts byte for byte,
// to exercise what well-behaved servers rarely do: chunked bodies, closing
// idle keep-alive connections, never answering.
class ScriptedServer {
 public:
  struct Answer {
    std::string bytes;  ///< sent as is; empty: send nothing
    bool close_after = false;
  };
  using Script = std::function<Answer(const std::string& request, int nth_request)>;

  explicit ScriptedServer(Script script) : script_(std::move(script)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(listener_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    listen(listener_, 64);
    socklen_t len = sizeof a;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ScriptedServer() {
    stop_ = true;
    thread_.join();
    for (int fd : connections_) close(fd);
    close(listener_);
  }
  std::uint16_t port() const { return port_; }
  int requests() const { return requests_; }
  int connections() const { return accepted_; }

 private:
  void serve() {
    std::vector<std::string> buffers;
    while (!stop_) {
      std::vector<pollfd> fds{{listener_, POLLIN, 0}};
      for (int fd : connections_) fds.push_back({fd, POLLIN, 0});
      if (poll(fds.data(), fds.size(), 20) <= 0) continue;
      if (fds[0].revents & POLLIN) {
        connections_.push_back(accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC));
        buffers.emplace_back();
        ++accepted_;
      }
      for (std::size_t i = 1; i < fds.size(); ++i) {
        if (!(fds[i].revents & (POLLIN | POLLHUP))) continue;
        char chunk[4096];
        const ssize_t n = recv(fds[i].fd, chunk, sizeof chunk, 0);
        auto& buffer = buffers[i - 1];
        if (n <= 0) {
          close(fds[i].fd);
          connections_[i - 1] = -1;
          continue;
        }
        buffer.append(chunk, n);
        const auto end = buffer.find("\r\n\r\n");
        if (end == std::string::npos) continue;
        std::size_t length = 0;
        if (auto cl = buffer.find("Content-Length: "); cl != std::string::npos && cl < end) {
          length = std::stoul(buffer.substr(cl + 16));
        }
        if (buffer.size() < end + 4 + length) continue;
        const std::string request = buffer.substr(0, end + 4 + length);
        buffer.erase(0, end + 4 + length);
        const Answer answer = script_(request, ++requests_);
        if (!answer.bytes.empty())
          send(fds[i].fd, answer.bytes.data(), answer.bytes.size(), MSG_NOSIGNAL);
        if (answer.close_after) {
          close(fds[i].fd);
          connections_[i - 1] = -1;
        }
      }
      for (std::size_t i = 0; i < connections_.size();) {
        if (connections_[i] < 0) {
          connections_.erase(connections_.begin() + i);
          buffers.erase(buffers.begin() + i);
        } else {
          ++i;
        }
      }
    }
  }

  Script script_;
  int listener_ = -1;
  std::uint16_t port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0}, accepted_{0};
  std::vector<int> connections_;
};

std::string ok(const std::string& body) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n\r\n" + body;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(http_client)

BOOST_AUTO_TEST_CASE(keep_alive_reuses_one_connection_and_sends_the_body) {
  std::string seen;
  ScriptedServer server([&](const std::string& request, int) {
    seen = request;
    return ScriptedServer::Answer{ok("{\"ok\":true}")};
  });
  io::HttpClient client("127.0.0.1", server.port());
  for (int i = 0; i < 5; ++i) {
    auto r = client.send(
        {"POST", "/v1/customers", {{"Authorization", "Bearer sk_test_x"}}, "email=a%40b"});
    BOOST_TEST(r.status == 200);
    BOOST_TEST(r.body == "{\"ok\":true}");
    BOOST_TEST(r.header("content-type").value_or("") == "application/json");
  }
  BOOST_TEST(server.connections() == 1);
  BOOST_TEST(seen.find("Content-Length: 11\r\n") != std::string::npos);
  BOOST_TEST(seen.find("\r\n\r\nemail=a%40b") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(chunked_and_close_delimited_bodies) {
  ScriptedServer server([](const std::string&, int n) {
    if (n == 1) {
      return ScriptedServer::Answer{
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n "
          "world\r\n0\r\n\r\n"};
    }
    return ScriptedServer::Answer{
        "HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\nno such thing", true};
  });
  io::HttpClient client("127.0.0.1", server.port());
  BOOST_TEST(client.send({"GET", "/a", {}, ""}).body == "hello world");
  auto r = client.send({"GET", "/b", {}, ""});
  BOOST_TEST(r.status == 404);
  BOOST_TEST(r.body == "no such thing");
}

BOOST_AUTO_TEST_CASE(a_stale_keep_alive_connection_is_retried_only_when_safe) {
  // The server answers, then closes every connection without saying so.
  ScriptedServer server([](const std::string&, int) {
    return ScriptedServer::Answer{ok("{}"), true};
  });
  io::HttpClient client("127.0.0.1", server.port());
  BOOST_TEST(client.send({"GET", "/", {}, ""}).status == 200);
  std::this_thread::sleep_for(50ms);                            // let the close arrive
  BOOST_TEST(client.send({"GET", "/", {}, ""}).status == 200);  // retried on a new connection
  BOOST_TEST(client.send({"POST", "/x", {{"Idempotency-Key", "k1"}}, "a=1"}).status == 200);
  std::this_thread::sleep_for(50ms);
  // A POST without an Idempotency-Key is never sent twice behind the caller's back.
  try {
    client.send({"POST", "/x", {}, "a=1"});
    BOOST_FAIL("a stale POST was retried");
  } catch (const io::HttpError& e) {
    BOOST_TEST((e.kind() == io::HttpError::Kind::reset));
  }
}

BOOST_AUTO_TEST_CASE(timeouts_and_refusals_say_whether_the_request_may_have_applied) {
  ScriptedServer silent([](const std::string&, int) { return ScriptedServer::Answer{}; });
  io::HttpClient::Options options;
  options.request_timeout = 200ms;
  io::HttpClient slow("127.0.0.1", silent.port(), options);
  try {
    slow.send({"POST", "/v1/customers", {}, "x=1"});
    BOOST_FAIL("no timeout");
  } catch (const io::HttpError& e) {
    BOOST_TEST((e.kind() == io::HttpError::Kind::timeout));
    BOOST_TEST(e.maybe_applied());  // it was sent: the server may have applied it
  }
  io::HttpClient refused("127.0.0.1", services::pick_free_loopback_port());
  try {
    refused.send({"GET", "/", {}, ""});
    BOOST_FAIL("no error");
  } catch (const io::HttpError& e) {
    BOOST_TEST((e.kind() == io::HttpError::Kind::connect));
    BOOST_TEST(!e.maybe_applied());
  }
}

BOOST_AUTO_TEST_CASE(fibers_share_the_client_and_overlap) {
  // Boost.Test assertions are not thread-safe: the worker thread only counts.
  std::atomic<int> in_flight{0}, most{0}, failures{0};
  ScriptedServer server([&](const std::string&, int) { return ScriptedServer::Answer{ok("{}")}; });
  std::thread worker([&] {
    io::use_reactor_scheduler();
    io::HttpClient client("127.0.0.1", server.port());
    std::vector<boost::fibers::fiber> fibers;
    for (int i = 0; i < 16; ++i) {
      fibers.emplace_back([&] {
        for (int k = 0; k < 10; ++k) {
          const int now = ++in_flight;
          most = std::max(most.load(), now);
          if (client.send({"GET", "/", {}, ""}).status != 200) ++failures;
          --in_flight;
        }
      });
    }
    for (auto& f : fibers) f.join();
  });
  worker.join();
  BOOST_TEST(failures.load() == 0);
  BOOST_TEST(server.requests() == 160);
  BOOST_TEST(most.load() > 1);  // requests of different fibers were outstanding together
}

BOOST_AUTO_TEST_CASE(url_encoding) {
  BOOST_TEST(io::url_encode("metadata[org_id]") == "metadata%5Borg_id%5D");
  BOOST_TEST(io::url_encode("a b&c=d/é") == "a%20b%26c%3Dd%2F%C3%A9");
  BOOST_TEST(io::url_encode("safe-_.~AZ09") == "safe-_.~AZ09");
}

BOOST_AUTO_TEST_SUITE_END()
