#include "world/database_snapshot.hpp"

#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "core/one_line.hpp"

namespace orgquake::world {
namespace {

// Everything of a schema a trial could change with DDL, one line an object,
// hashed: tables, views and sequences, their columns, constraints, indexes,
// triggers, functions, types, schemas and extensions. Equal fingerprints mean
// that truncating and reloading the tables gives back the snapshot's database.
constexpr const char* kFingerprintQuery = R"sql(
WITH user_namespace AS (
  SELECT oid, nspname FROM pg_namespace
  WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
    AND nspname NOT LIKE 'pg_temp_%' AND nspname NOT LIKE 'pg_toast_temp_%'
), line AS (
  SELECT 'schema ' || nspname AS text FROM user_namespace
  UNION ALL
  SELECT format('relation %s.%s %s %s', n.nspname, c.relname, c.relkind, c.relpersistence)
  FROM pg_class c JOIN user_namespace n ON n.oid = c.relnamespace
  UNION ALL
  SELECT format('column %s.%s %s %s %s %s %s', n.nspname, c.relname, a.attnum, a.attname,
                format_type(a.atttypid, a.atttypmod), a.attnotnull,
                coalesce(pg_get_expr(d.adbin, d.adrelid), ''))
  FROM pg_attribute a
  JOIN pg_class c ON c.oid = a.attrelid
  JOIN user_namespace n ON n.oid = c.relnamespace
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attnum > 0 AND NOT a.attisdropped
  UNION ALL
  SELECT format('constraint %s %s %s', n.nspname, co.conname, pg_get_constraintdef(co.oid))
  FROM pg_constraint co JOIN user_namespace n ON n.oid = co.connamespace
  UNION ALL
  SELECT 'index ' || pg_get_indexdef(i.indexrelid)
  FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  JOIN user_namespace n ON n.oid = c.relnamespace
  UNION ALL
  SELECT 'trigger ' || pg_get_triggerdef(t.oid) FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid JOIN user_namespace n ON n.oid = c.relnamespace
  WHERE NOT t.tgisinternal
  UNION ALL
  SELECT format('function %s %s', p.oid::regprocedure, md5(coalesce(p.prosrc, '')))
  FROM pg_proc p JOIN user_namespace n ON n.oid = p.pronamespace
  UNION ALL
  SELECT format('type %s.%s %s', n.nspname, t.typname, t.typtype)
  FROM pg_type t JOIN user_namespace n ON n.oid = t.typnamespace
  UNION ALL
  SELECT format('enum %s %s %s', e.enumtypid::regtype, e.enumsortorder, e.enumlabel)
  FROM pg_enum e
  UNION ALL
  SELECT format('view %s.%s %s', n.nspname, c.relname, md5(pg_get_viewdef(c.oid)))
  FROM pg_class c JOIN user_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('v', 'm')
  UNION ALL
  SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension
)
SELECT md5(string_agg(text, E'\n' ORDER BY text)) FROM line
)sql";

// What any DDL changes, cheaply: per catalog the fingerprint reads, how many
// rows it has and the newest row's creating transaction. Creating or
// dropping an object changes a count; altering one writes a new row
// version, whose xmin is newer than every earlier one in a run's lifetime.
// (Only statistics and index flags are updated in place, and no DDL does
// that alone.) It costs a scan of the catalogs, where the fingerprint
// renders every definition: a restore takes 10 to 20 ms less (measured in
// lock_expiry_recovery's trials). Equal signatures mean the
// schema is as the last restore (or take) left it; different ones send the
// restore to the fingerprint, which decides.
constexpr const char* kCatalogSignatureQuery = R"sql(
SELECT string_agg(format('%s %s %s', catalog, n, newest), ' ' ORDER BY catalog) FROM (
  SELECT 'pg_namespace' AS catalog, count(*) AS n, max(xmin::text::bigint) AS newest
    FROM pg_namespace
  UNION ALL SELECT 'pg_class', count(*), max(xmin::text::bigint) FROM pg_class
  UNION ALL SELECT 'pg_attribute', count(*), max(xmin::text::bigint) FROM pg_attribute
  UNION ALL SELECT 'pg_attrdef', count(*), max(xmin::text::bigint) FROM pg_attrdef
  UNION ALL SELECT 'pg_constraint', count(*), max(xmin::text::bigint) FROM pg_constraint
  UNION ALL SELECT 'pg_index', count(*), max(xmin::text::bigint) FROM pg_index
  UNION ALL SELECT 'pg_trigger', count(*), max(xmin::text::bigint) FROM pg_trigger
  UNION ALL SELECT 'pg_proc', count(*), max(xmin::text::bigint) FROM pg_proc
  UNION ALL SELECT 'pg_type', count(*), max(xmin::text::bigint) FROM pg_type
  UNION ALL SELECT 'pg_enum', count(*), max(xmin::text::bigint) FROM pg_enum
  UNION ALL SELECT 'pg_rewrite', count(*), max(xmin::text::bigint) FROM pg_rewrite
  UNION ALL SELECT 'pg_extension', count(*), max(xmin::text::bigint) FROM pg_extension
) catalogs
)sql";

struct ConnDeleter {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultDeleter {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnDeleter>;
using Result = std::unique_ptr<PGresult, ResultDeleter>;

std::string error_of(PGconn* conn) {
  return one_line(PQerrorMessage(conn));
}

Conn connect(const services::PgUrl& url) {
  Conn conn(PQconnectdb(url.with("application_name", "orgquake-reset").conninfo().c_str()));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    throw std::runtime_error(
        fmt::format("cannot connect to {}: {}", url.display(), error_of(conn.get())));
  }
  return conn;
}

Result exec(PGconn* conn, const std::string& sql, ExecStatusType expected) {
  Result result(PQexec(conn, sql.c_str()));
  if (PQresultStatus(result.get()) != expected) {
    throw std::runtime_error(fmt::format("{}: {}", sql.substr(0, 60), error_of(conn)));
  }
  return result;
}

std::string value(const Result& result, int row, int column) {
  return PQgetvalue(result.get(), row, column);
}

// SQLSTATE of the last failed statement, if it was one.
std::string sqlstate_of(PGresult* result) {
  const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
  return state ? state : "";
}

}  // namespace

DatabaseSnapshot DatabaseSnapshot::take(const services::PgUrl& database) {
  Conn conn = connect(database);
  exec(conn.get(), "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", PGRES_COMMAND_OK);
  DatabaseSnapshot snapshot;
  snapshot.fingerprint_ = value(exec(conn.get(), kFingerprintQuery, PGRES_TUPLES_OK), 0, 0);
  snapshot.signature_of_[database.database()] =
      value(exec(conn.get(), kCatalogSignatureQuery, PGRES_TUPLES_OK), 0, 0);
  const auto tables = exec(conn.get(),
                           "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables "
                           "WHERE schemaname NOT IN ('pg_catalog', 'information_schema') "
                           "ORDER BY 1",
                           PGRES_TUPLES_OK);
  for (int row = 0; row < PQntuples(tables.get()); ++row) {
    Table table{value(tables, row, 0), {}};
    exec(conn.get(), "COPY " + table.name + " TO STDOUT", PGRES_COPY_OUT);
    for (;;) {
      char* buffer = nullptr;
      const int n = PQgetCopyData(conn.get(), &buffer, 0);
      if (n == -1) break;
      if (n < 0) throw std::runtime_error("COPY " + table.name + ": " + error_of(conn.get()));
      table.rows.append(buffer, static_cast<std::size_t>(n));
      PQfreemem(buffer);
    }
    Result done(PQgetResult(conn.get()));
    if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) {
      throw std::runtime_error("COPY " + table.name + ": " + error_of(conn.get()));
    }
    snapshot.tables_.push_back(std::move(table));
  }
  const auto sequences = exec(conn.get(),
                              "SELECT format('%I.%I', schemaname, sequencename), "
                              "coalesce(last_value, start_value), last_value IS NOT NULL "
                              "FROM pg_sequences ORDER BY 1",
                              PGRES_TUPLES_OK);
  for (int row = 0; row < PQntuples(sequences.get()); ++row) {
    snapshot.sequences_.push_back({value(sequences, row, 0), std::stoll(value(sequences, row, 1)),
                                   value(sequences, row, 2) == "t"});
  }
  exec(conn.get(), "COMMIT", PGRES_COMMAND_OK);
  return snapshot;
}

bool DatabaseSnapshot::restore_into(const services::PgUrl& database, int lock_timeout_ms) {
  Conn conn = connect(database);
  // Forgotten until this restore commits: a restore that stops half-way
  // leaves nothing to trust.
  const auto known = signature_of_.extract(database.database());
  exec(conn.get(), "BEGIN", PGRES_COMMAND_OK);
  exec(conn.get(), fmt::format("SET LOCAL lock_timeout = {}", lock_timeout_ms), PGRES_COMMAND_OK);
  // The fingerprint is read under the same locks the reload takes, so no DDL
  // can slip in between.
  std::string tables;
  for (const auto& table : tables_) tables += (tables.empty() ? "" : ", ") + table.name;
  if (!tables.empty()) {
    Result locked(
        PQexec(conn.get(), ("LOCK TABLE " + tables + " IN ACCESS EXCLUSIVE MODE").c_str()));
    if (PQresultStatus(locked.get()) != PGRES_COMMAND_OK) {
      const std::string state = sqlstate_of(locked.get());
      // 42P01: a table is gone; 55P03: a lock that would not come.
      if (state == "42P01" || state == "55P03") return false;
      throw std::runtime_error("LOCK TABLE: " + error_of(conn.get()));
    }
  }
  const bool unchanged =
      !known.empty() &&
      value(exec(conn.get(), kCatalogSignatureQuery, PGRES_TUPLES_OK), 0, 0) == known.mapped();
  if (!unchanged) {
    ++full_schema_checks_;
    if (value(exec(conn.get(), kFingerprintQuery, PGRES_TUPLES_OK), 0, 0) != fingerprint_) {
      return false;  // the connection's end rolls the transaction back
    }
  }
  // Triggers and foreign keys off while the snapshot's own rows go back.
  exec(conn.get(), "SET LOCAL session_replication_role = replica", PGRES_COMMAND_OK);
  if (!tables.empty()) exec(conn.get(), "TRUNCATE " + tables, PGRES_COMMAND_OK);
  for (const auto& table : tables_) {
    if (table.rows.empty()) continue;
    exec(conn.get(), "COPY " + table.name + " FROM STDIN", PGRES_COPY_IN);
    if (PQputCopyData(conn.get(), table.rows.data(), static_cast<int>(table.rows.size())) != 1 ||
        PQputCopyEnd(conn.get(), nullptr) != 1) {
      throw std::runtime_error("COPY " + table.name + ": " + error_of(conn.get()));
    }
    Result done(PQgetResult(conn.get()));
    if (PQresultStatus(done.get()) != PGRES_COMMAND_OK) {
      throw std::runtime_error("COPY " + table.name + ": " + error_of(conn.get()));
    }
  }
  for (const auto& sequence : sequences_) {
    const std::string value_text = std::to_string(sequence.value);
    const char* values[] = {sequence.name.c_str(), value_text.c_str(),
                            sequence.called ? "true" : "false"};
    Result set(PQexecParams(conn.get(), "SELECT setval($1::regclass, $2::bigint, $3::boolean)", 3,
                            nullptr, values, nullptr, nullptr, 0));
    if (PQresultStatus(set.get()) != PGRES_TUPLES_OK) {
      throw std::runtime_error("setval " + sequence.name + ": " + error_of(conn.get()));
    }
  }
  // TRUNCATE gave the tables new files, so new pg_class rows: the schema is
  // the snapshot's as it stands now. Read under the locks, so that DDL
  // committed after this restore counts as a change at the next.
  std::string signature = value(exec(conn.get(), kCatalogSignatureQuery, PGRES_TUPLES_OK), 0, 0);
  exec(conn.get(), "COMMIT", PGRES_COMMAND_OK);
  signature_of_[database.database()] = std::move(signature);
  // TRUNCATE forgets the tables' sizes; ANALYZE gives the planner back what
  // a clone of the analyzed template would have had. (Its statistics are
  // written in place: the signature does not move.)
  if (!tables.empty()) exec(conn.get(), "ANALYZE " + tables, PGRES_COMMAND_OK);
  return true;
}

}  // namespace orgquake::world
