#pragma once

#include <optional>
#include <string>

#include "migrator/model.hpp"

struct pg_conn;

namespace orgquake::bench {

/// The n_plus_one strategy's statements (the same SQL as
/// migrator/loading.cpp sends, one per related row) sent through libpq's
/// pipeline mode: every statement whose parameters are known is sent before
/// any answer is read, so the 3 + 3M statements of a user with M memberships
/// take 4 round trips instead of 3 + 3M. Set beside lookup/n_plus_one, it
/// separates what the statements cost the server from what their round trips
/// cost.
///
/// A benchmark-only loader on a connection of its own: io::PgConnection
/// does not expose its PGconn, and the migrator has no pipelined strategy.
class PipelinedNPlusOne {
 public:
  /// Connects (blocking libpq, for the benchmark thread) and enters pipeline
  /// mode. Throws EnvironmentError when either fails.
  explicit PipelinedNPlusOne(const std::string& conninfo);
  ~PipelinedNPlusOne();
  PipelinedNPlusOne(const PipelinedNPlusOne&) = delete;
  PipelinedNPlusOne& operator=(const PipelinedNPlusOne&) = delete;

  /// Loads a migrated user as migrator::load_user(..., n_plus_one) does; an
  /// equal object, or nullopt when there is no app_user. Throws
  /// std::runtime_error on a server or connection error.
  std::optional<migrator::LoadedUser> load(const std::string& legacy_user_id);

  /// Round trips and statements of the last load().
  int round_trips() const { return round_trips_; }
  int statements() const { return statements_; }

  /// The server process of this connection.
  int backend_pid() const;

 private:
  pg_conn* conn_ = nullptr;
  int round_trips_ = 0;
  int statements_ = 0;
};

}  // namespace orgquake::bench
