#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "services/postgres_url.hpp"

namespace orgquake::world {

/// A database's content as it can be put back in place: every table's rows
/// (COPY text), every sequence's position, and a fingerprint of its schema.
/// Putting it back reuses a trial's database for the next trial without
/// dropping it, so the sessions a session pool keeps to it stay open:
///
///   auto pristine = DatabaseSnapshot::take(tpl.url());
///   ...a trial writes to `kept`...
///   if (!pristine.restore_into(kept)) { /* schema changed: clone afresh */ }
///
/// Restoring needs a superuser (it loads with triggers and foreign keys
/// off, as pg_restore --disable-triggers does): the embedded server's.
class DatabaseSnapshot {
 public:
  /// Reads `database` in one repeatable-read snapshot. Throws pqxx errors.
  static DatabaseSnapshot take(const services::PgUrl& database);

  /// Truncates every table of `database`, loads the snapshot's rows, sets its
  /// sequences and analyzes, in one transaction. Returns false, changing
  /// nothing, when the schema of `database` is no longer the snapshot's (a
  /// trial ran DDL) or its tables cannot be locked within `lock_timeout_ms`;
  /// the caller clones afresh then. Throws for a server that fails otherwise.
  /// The schema check renders every definition (the fingerprint) only when
  /// the catalogs changed since this snapshot last restored (or was taken
  /// from) `database`, which a trial without DDL never does.
  bool restore_into(const services::PgUrl& database, int lock_timeout_ms = 10000);

  const std::string& schema_fingerprint() const { return fingerprint_; }
  /// How many restores had to render the schema, the catalogs having
  /// changed since this snapshot last left the database.
  int full_schema_checks() const { return full_schema_checks_; }
  std::size_t table_count() const { return tables_.size(); }

 private:
  struct Table {
    std::string name;  // schema-qualified, quoted
    std::string rows;  // COPY ... TO STDOUT, text format
  };
  struct Sequence {
    std::string name;  // schema-qualified, quoted
    std::int64_t value = 0;
    bool called = false;
  };
  std::string fingerprint_;
  /// By database name: its catalogs' signature when it last held exactly
  /// the snapshot's schema (taken from it, or restored by it).
  std::map<std::string, std::string> signature_of_;
  int full_schema_checks_ = 0;
  std::vector<Table> tables_;
  std::vector<Sequence> sequences_;
};

}  // namespace orgquake::world
