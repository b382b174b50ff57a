#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace orgquake::services {

/// A PostgreSQL connection target, parsed from a postgres:// or
/// postgresql:// URL by libpq itself, so every parameter libpq accepts works.
///
///   auto url = PgUrl::parse("postgresql://app@127.0.0.1:5432/orgquake");
///   pqxx::connection c{url.with_database("orgquake_trial_1").conninfo()};
class PgUrl {
 public:
  /// Throws UsageError naming the URL and what is wrong with it.
  static PgUrl parse(const std::string& url);
  /// A loopback TCP target of an embedded server.
  static PgUrl loopback(std::uint16_t port, const std::string& user, const std::string& database);

  /// The same server and credentials, another database.
  PgUrl with_database(const std::string& database) const;
  /// The same target with one libpq parameter set (or replaced).
  PgUrl with(const std::string& keyword, const std::string& value) const;

  /// libpq keyword/value form, quoted, for PQconnectdb or pqxx::connection.
  std::string conninfo() const;
  /// A URL for people and logs, password masked.
  std::string display() const;
  /// A URL that connects, password included (for the environment of a child).
  std::string full() const;

  std::string database() const;
  /// The user named in the URL; empty when libpq would take the OS user's name.
  std::string user() const { return get("user"); }
  std::string host() const;
  std::string port() const;

 private:
  std::string get(const std::string& key, const std::string& fallback = "") const;
  std::string to_url(bool with_password) const;
  std::map<std::string, std::string> params_;
};

}  // namespace orgquake::services
