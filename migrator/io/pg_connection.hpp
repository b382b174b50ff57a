#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "migrator/io/reactor.hpp"

struct pg_conn;
struct pg_result;

namespace orgquake::io {

/// An error the server reported, with its SQLSTATE ("23505" unique violation,
/// "40001" serialization failure, "57P01" backend terminated...).
class PgError : public std::runtime_error {
 public:
  PgError(std::string sqlstate, const std::string& message)
      : std::runtime_error(message), sqlstate_(std::move(sqlstate)) {}
  const std::string& sqlstate() const { return sqlstate_; }

 private:
  std::string sqlstate_;
};

/// The connection failed or broke (server gone, backend killed, timeout);
/// it cannot be used again.
class PgConnectionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One query result; text-format values.
class PgResult {
 public:
  explicit PgResult(pg_result* result);
  PgResult(PgResult&&) noexcept = default;
  PgResult& operator=(PgResult&&) noexcept = default;
  ~PgResult();

  int rows() const;
  int columns() const;
  bool empty() const { return rows() == 0; }
  bool is_null(int row, int column) const;
  /// The value as text; empty for NULL (check is_null where it matters).
  std::string_view text(int row, int column) const;
  std::optional<std::string> optional_text(int row, int column) const;
  std::int64_t integer(int row, int column) const;
  double number(int row, int column) const;
  bool boolean(int row, int column) const;
  /// Rows an INSERT, UPDATE or DELETE touched.
  std::int64_t affected_rows() const;

 private:
  struct Free {
    void operator()(pg_result* r) const;
  };
  std::unique_ptr<pg_result, Free> result_;
};

/// A query parameter in text form; nullopt is SQL NULL.
using PgParam = std::optional<std::string>;

/// A PostgreSQL connection whose waits suspend only the calling fiber
/// (nonblocking libpq over the reactor): while one fiber waits for its query,
/// the thread runs the others. Used by one fiber at a time.
///
///   auto pg = PgConnection::connect(conninfo, io::after(5s));
///   auto r = pg.exec("SELECT org_id FROM org_member WHERE user_id = $1", {user_id});
class PgConnection {
 public:
  /// `application_name`, when given, names the session in pg_stat_activity
  /// (the harness aims a backend kill at a client by it). `options`, when
  /// given, are settings the session starts with (`-c name=value ...`),
  /// sent in the start-up packet: no round trip of their own.
  static PgConnection connect(const std::string& conninfo, Deadline deadline,
                              const std::string& application_name = "",
                              const std::string& options = "");

  PgConnection(PgConnection&& other) noexcept;
  PgConnection& operator=(PgConnection&& other) noexcept;
  PgConnection(const PgConnection&) = delete;
  PgConnection& operator=(const PgConnection&) = delete;
  ~PgConnection();

  /// Runs one statement with $1.. parameters. Throws PgError for an SQL
  /// error (the connection stays usable), PgConnectionError when the
  /// connection broke or `deadline` passed (it is then closed).
  PgResult exec(std::string_view sql, const std::vector<PgParam>& params = {},
                Deadline deadline = std::nullopt);

  /// Like exec(), for statements run again and again (a lookup's queries):
  /// prepared on first use on this connection, under a name derived from the
  /// text, so the server parses and plans them once, not on every call.
  PgResult exec_prepared(std::string_view sql, const std::vector<PgParam>& params = {},
                         Deadline deadline = std::nullopt);
  /// The name exec_prepared() prepares `sql` under: for `EXPLAIN EXECUTE`
  /// of the very plan a lookup runs.
  static std::string prepared_statement_name(std::string_view sql);

  /// Runs several statements without parameters (a script); returns the last result.
  PgResult exec_script(std::string_view sql, Deadline deadline = std::nullopt);

  bool open() const { return conn_ != nullptr; }
  int backend_pid() const;
  void close();

 private:
  explicit PgConnection(pg_conn* conn) : conn_(conn) {}
  PgResult finish(std::string_view what, Deadline deadline);
  void flush(Deadline deadline);
  [[noreturn]] void fail(const std::string& what);

  pg_conn* conn_ = nullptr;
  std::unordered_set<std::string> prepared_;  ///< statement names this session has
};

}  // namespace orgquake::io
