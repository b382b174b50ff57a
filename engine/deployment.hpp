#pragma once

// The controller's hand on the application under test, as a deployment
// pipeline's: it sets the rollout flag (schema file 0004_rollout_flag.sql)
// in a trial's database while the workers' requests read it, and backs the
// database up and restores it, as the migration guide's rollback of a
// backfill does. Trial records each change in the history
// (EventType::rollout).

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "services/services.hpp"

namespace orgquake::engine {

/// Sets the org path's rollout flag in the database at `url`, as version
/// `version` (the trial numbers the flag's states: a restore takes the
/// database's own counter back).
void set_rollout_flag(const services::PgUrl& url, std::int64_t version, int percentage,
                      const std::vector<std::string>& allow_list);

/// Copies database `name` to a new database `backup` (CREATE DATABASE ...
/// TEMPLATE: nobody may be connected to `name` meanwhile).
void back_up_database(const services::PgUrl& admin, const std::string& name,
                      const std::string& backup);

/// Replaces database `name` with a copy of `backup`: every session on it is
/// ended, it is dropped and created again from the backup.
void restore_database(const services::PgUrl& admin, const std::string& name,
                      const std::string& backup);

/// Drops database `name` if it exists, ending its sessions.
void drop_database(const services::PgUrl& admin, const std::string& name);

}  // namespace orgquake::engine

namespace orgquake::engine {

/// One attempt at a schema step: its statements in one transaction (or,
/// for a step that cannot run in one, each on its own), each waiting at
/// most `lock_timeout` for its table lock. A DDL statement that waits for
/// a lock holds up every request queued behind it, so a step gives up
/// quickly and is tried again rather than stall live traffic.
struct SchemaAttempt {
  bool done = false;
  bool lock_timed_out = false;  ///< PostgreSQL's lock_timeout (55P03) ended it
};
SchemaAttempt attempt_schema_step(const services::PgUrl& url,
                                  const std::vector<std::string>& statements,
                                  std::chrono::milliseconds lock_timeout, bool in_transaction);

/// The first column of the first row of `sql` as a count (a step's
/// precondition: rows the step would break).
std::int64_t count_rows(const services::PgUrl& url, const std::string& sql);

/// A step of the expand/contract checklist applied to the live database
/// (Trial::schema_step).
struct SchemaStep {
  std::string name;  ///< "add nullable org_id", as the checklist says
  std::vector<std::string> statements;
  /// CREATE INDEX CONCURRENTLY and friends run outside a transaction.
  bool in_transaction = true;
  /// A query counting the rows the step would break (a NOT NULL
  /// constraint over unbackfilled rows): the step refuses while it is above 0.
  std::string refuse_while;
  std::chrono::milliseconds lock_timeout{100};
  int max_attempts = 100;
  std::chrono::milliseconds retry_pause{30};
};

/// What became of a schema step.
struct SchemaStepOutcome {
  bool applied = false;
  bool refused = false;
  std::int64_t blocking_rows = 0;  ///< refuse_while's count when it refused
  int attempts = 0;
  int lock_timeouts = 0;  ///< attempts that gave up waiting for a lock
};

/// A transaction that holds a lock on a table until destroyed, as a long
/// report query does: what a DDL step must not queue behind.
class TableLockHolder {
 public:
  TableLockHolder(const services::PgUrl& url, const std::string& table);
  ~TableLockHolder();
  TableLockHolder(const TableLockHolder&) = delete;
  TableLockHolder& operator=(const TableLockHolder&) = delete;

 private:
  struct Session;
  std::unique_ptr<Session> session_;
};

}  // namespace orgquake::engine
