#include "services/postgres_url.hpp"

#include <cctype>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "core/error.hpp"

namespace orgquake::services {
namespace {

std::string quote_conninfo_value(const std::string& value) {
  std::string out = "'";
  for (char c : value) {
    if (c == '\'' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  return out + "'";
}

std::string percent_encode(const std::string& value) {
  std::string out;
  for (unsigned char c : value) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("%{:02X}", c);
    }
  }
  return out;
}

}  // namespace

PgUrl PgUrl::parse(const std::string& url) {
  if (url.rfind("postgres://", 0) != 0 && url.rfind("postgresql://", 0) != 0) {
    throw UsageError(
        fmt::format("bad PostgreSQL URL '{}': it must start with postgresql:// (e.g. "
                    "postgresql://user:password@127.0.0.1:5432/orgquake)",
                    url));
  }
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(url.c_str(), &error);
  if (options == nullptr) {
    std::string message = error ? error : "out of memory";
    PQfreemem(error);
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    throw UsageError(fmt::format("bad PostgreSQL URL '{}': {}", url, message));
  }
  PgUrl parsed;
  for (auto* o = options; o->keyword != nullptr; ++o) {
    if (o->val != nullptr && *o->val != '\0') parsed.params_[o->keyword] = o->val;
  }
  PQconninfoFree(options);
  if (parsed.get("host").empty() && parsed.get("hostaddr").empty()) {
    throw UsageError(fmt::format("bad PostgreSQL URL '{}': it names no host", url));
  }
  if (auto port = parsed.get("port"); !port.empty()) {
    int value = 0;
    try {
      value = std::stoi(port);
    } catch (const std::exception&) {
    }
    if (value < 1 || value > 65535 || std::to_string(value) != port) {
      throw UsageError(fmt::format("bad PostgreSQL URL '{}': port '{}' is not 1-65535", url, port));
    }
  }
  return parsed;
}

PgUrl PgUrl::loopback(std::uint16_t port, const std::string& user, const std::string& database) {
  PgUrl url;
  url.params_ = {
      {"host", "127.0.0.1"}, {"port", std::to_string(port)}, {"user", user}, {"dbname", database}};
  return url;
}

PgUrl PgUrl::with_database(const std::string& database) const {
  PgUrl copy = *this;
  copy.params_["dbname"] = database;
  return copy;
}

PgUrl PgUrl::with(const std::string& keyword, const std::string& value) const {
  PgUrl copy = *this;
  copy.params_[keyword] = value;
  return copy;
}

std::string PgUrl::get(const std::string& key, const std::string& fallback) const {
  auto it = params_.find(key);
  return it == params_.end() ? fallback : it->second;
}

std::string PgUrl::conninfo() const {
  std::string out;
  for (const auto& [key, value] : params_) {
    if (!out.empty()) out.push_back(' ');
    out += key + "=" + quote_conninfo_value(value);
  }
  return out;
}

std::string PgUrl::database() const {
  return get("dbname", get("user", "postgres"));
}
std::string PgUrl::host() const {
  return get("host", get("hostaddr"));
}
std::string PgUrl::port() const {
  return get("port", "5432");
}

std::string PgUrl::to_url(bool with_password) const {
  std::string auth;
  if (auto user = get("user"); !user.empty()) {
    auth = percent_encode(user);
    if (auto password = get("password"); !password.empty()) {
      auth += ":" + (with_password ? percent_encode(password) : std::string("***"));
    }
    auth += "@";
  }
  std::string host = this->host();
  if (host.find(':') != std::string::npos) host = "[" + host + "]";  // IPv6
  std::string query;
  for (const auto& [key, value] : params_) {
    if (key == "user" || key == "password" || key == "host" || key == "hostaddr" || key == "port" ||
        key == "dbname") {
      continue;
    }
    query += (query.empty() ? "?" : "&") + key + "=" + percent_encode(value);
  }
  return fmt::format("postgresql://{}{}:{}/{}{}", auth, percent_encode(host), port(),
                     percent_encode(database()), query);
}

std::string PgUrl::display() const {
  return to_url(false);
}
std::string PgUrl::full() const {
  return to_url(true);
}

}  // namespace orgquake::services
