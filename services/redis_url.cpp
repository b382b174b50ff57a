#include "services/redis_url.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::services {
namespace {

template <typename Int>
bool parse_int(std::string_view text, Int& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

}  // namespace

RedisUrl RedisUrl::parse(const std::string& url) {
  auto bad = [&](const std::string& why) {
    return UsageError(
        fmt::format("bad Redis URL '{}': {} (expected redis://host:port/db)", url, why));
  };
  constexpr std::string_view scheme = "redis://";
  if (url.rfind(scheme, 0) != 0) throw bad("it must start with redis://");
  std::string_view rest(url);
  rest.remove_prefix(scheme.size());

  RedisUrl parsed;
  if (auto at = rest.rfind('@'); at != std::string_view::npos) {
    std::string_view auth = rest.substr(0, at);
    rest.remove_prefix(at + 1);
    if (auto colon = auth.find(':'); colon != std::string_view::npos) {
      parsed.user = std::string(auth.substr(0, colon));
      parsed.password = std::string(auth.substr(colon + 1));
    } else {
      parsed.password = std::string(auth);
    }
  }
  std::string_view hostport = rest.substr(0, rest.find('/'));
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() &&
        (!parse_int(db, parsed.database) || parsed.database < 0 || parsed.database > 15)) {
      throw bad(fmt::format("database '{}' is not a number from 0 to 15", db));
    }
  }
  std::string_view host = hostport;
  if (!hostport.empty() && hostport.front() == '[') {  // [IPv6]:port
    auto close = hostport.find(']');
    if (close == std::string_view::npos) throw bad("unclosed '[' in the host");
    host = hostport.substr(1, close - 1);
    hostport.remove_prefix(close + 1);
    if (!hostport.empty() && hostport.front() != ':') throw bad("junk after ']'");
  } else if (auto colon = hostport.rfind(':'); colon != std::string_view::npos) {
    host = hostport.substr(0, colon);
    hostport.remove_prefix(colon);
  } else {
    hostport = {};
  }
  if (!hostport.empty()) {  // ":port"
    std::string_view port = hostport.substr(1);
    unsigned value = 0;
    if (!parse_int(port, value) || value < 1 || value > 65535) {
      throw bad(fmt::format("port '{}' is not 1-65535", port));
    }
    parsed.port = static_cast<std::uint16_t>(value);
  }
  if (host.empty()) throw bad("it names no host");
  parsed.host = std::string(host);
  return parsed;
}

std::string RedisUrl::display() const {
  std::string auth;
  if (!user.empty() || !password.empty()) auth = user + (password.empty() ? "" : ":***") + "@";
  std::string h = host.find(':') != std::string::npos ? "[" + host + "]" : host;
  return fmt::format("redis://{}{}:{}/{}", auth, h, port, database);
}

}  // namespace orgquake::services
