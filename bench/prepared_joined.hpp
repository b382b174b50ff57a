#pragma once

#include <optional>
#include <string>

#include "migrator/model.hpp"

struct pg_conn;

namespace orgquake::bench {

/// The joined strategy's one statement (the same SQL as
/// migrator/loading.cpp's load_joined) as a prepared statement: planned once
/// per connection instead of on every lookup. Set beside lookup/joined, it
/// shows how much of a lookup is the planner's: the migrator sends every
/// statement unnamed (PQsendQueryParams), which PostgreSQL parses and plans
/// each time.
///
/// A benchmark-only loader on a connection of its own (blocking libpq, for
/// the benchmark thread); io::PgConnection has no prepared statements.
class PreparedJoined {
 public:
  /// Connects and prepares; throws EnvironmentError when either fails.
  explicit PreparedJoined(const std::string& conninfo);
  ~PreparedJoined();
  PreparedJoined(const PreparedJoined&) = delete;
  PreparedJoined& operator=(const PreparedJoined&) = delete;

  /// Loads a migrated user as migrator::load_user(..., joined) does; an
  /// equal object, or nullopt when there is no app_user. Throws
  /// std::runtime_error on a server or connection error.
  std::optional<migrator::LoadedUser> load(const std::string& legacy_user_id);

  /// The server process of this connection.
  int backend_pid() const;

 private:
  pg_conn* conn_ = nullptr;
};

}  // namespace orgquake::bench
