#include "migrator/io/pg_connection.hpp"

#include <charconv>
#include <cstdlib>
#include <string_view>
#include <utility>
#include <vector>

#include <libpq-fe.h>

#include "core/hash.hpp"
#include "core/one_line.hpp"

namespace orgquake::io {
namespace {

/// The value `keyword` has in `conninfo` (a URL or key=value pairs), or "".
std::string conninfo_option(const std::string& conninfo, const char* keyword) {
  char* error = nullptr;
  PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &error);
  if (error != nullptr) PQfreemem(error);  // the connection attempt reports it
  if (parsed == nullptr) return "";
  std::string value;
  for (const PQconninfoOption* o = parsed; o->keyword != nullptr; ++o) {
    if (std::string_view(o->keyword) == keyword && o->val != nullptr) value = o->val;
  }
  PQconninfoFree(parsed);
  return value;
}

}  // namespace

// --- PgResult --------------------------------------------------------------

void PgResult::Free::operator()(pg_result* r) const {
  PQclear(r);
}

PgResult::PgResult(pg_result* result) : result_(result) {}
PgResult::~PgResult() = default;

int PgResult::rows() const {
  return PQntuples(result_.get());
}
int PgResult::columns() const {
  return PQnfields(result_.get());
}
bool PgResult::is_null(int row, int column) const {
  return PQgetisnull(result_.get(), row, column) != 0;
}

std::string_view PgResult::text(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column),
          static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

std::optional<std::string> PgResult::optional_text(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return std::string(text(row, column));
}

std::int64_t PgResult::integer(int row, int column) const {
  const auto value = text(row, column);
  std::int64_t out = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  if (ec != std::errc{} || end != value.data() + value.size()) {
    throw std::runtime_error("column " + std::to_string(column) + " is not an integer: '" +
                             std::string(value) + "'");
  }
  return out;
}

double PgResult::number(int row, int column) const {
  return std::strtod(std::string(text(row, column)).c_str(), nullptr);
}

bool PgResult::boolean(int row, int column) const {
  return text(row, column) == "t";
}

std::int64_t PgResult::affected_rows() const {
  const char* n = PQcmdTuples(result_.get());
  return n && *n ? std::atoll(n) : 0;
}

// --- PgConnection ----------------------------------------------------------

PgConnection PgConnection::connect(const std::string& conninfo, Deadline deadline,
                                   const std::string& application_name,
                                   const std::string& options) {
  // The conninfo (a URL or key=value pairs) is expanded in place of dbname;
  // what is given after it overrides what it carries.
  std::vector<const char*> keywords = {"dbname"};
  std::vector<const char*> values = {conninfo.c_str()};
  if (!application_name.empty()) {
    keywords.push_back("application_name");
    values.push_back(application_name.c_str());
  }
  std::string all_options;
  if (!options.empty()) {
    // Added to the conninfo's own options, which a later keyword would replace.
    all_options = conninfo_option(conninfo, "options");
    all_options += (all_options.empty() ? "" : " ") + options;
    keywords.push_back("options");
    values.push_back(all_options.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);
  pg_conn* raw = PQconnectStartParams(keywords.data(), values.data(), /*expand_dbname=*/1);
  if (raw == nullptr) throw PgConnectionError("cannot allocate a PostgreSQL connection");
  PgConnection connection(raw);
  if (PQstatus(raw) == CONNECTION_BAD) connection.fail("cannot connect to PostgreSQL");
  // PQconnectPoll's documented loop: wait for what it asks, until OK or FAILED.
  PostgresPollingStatusType status = PGRES_POLLING_WRITING;
  for (;;) {
    if (status == PGRES_POLLING_OK) break;
    if (status == PGRES_POLLING_FAILED) connection.fail("cannot connect to PostgreSQL");
    const int fd = PQsocket(raw);
    const Interest interest =
        status == PGRES_POLLING_READING ? Interest::readable : Interest::writable;
    if (!wait_for(fd, interest, deadline)) {
      connection.close();
      throw PgConnectionError("timed out connecting to PostgreSQL");
    }
    status = PQconnectPoll(raw);
    // The socket may change during connection attempts (multiple hosts).
    if (PQsocket(raw) != fd) forget(fd);
  }
  if (PQsetnonblocking(raw, 1) != 0) connection.fail("cannot make the connection nonblocking");
  return connection;
}

PgConnection::PgConnection(PgConnection&& other) noexcept
    : conn_(other.conn_), prepared_(std::move(other.prepared_)) {
  other.conn_ = nullptr;
}

PgConnection& PgConnection::operator=(PgConnection&& other) noexcept {
  if (this != &other) {
    close();
    conn_ = std::exchange(other.conn_, nullptr);
    prepared_ = std::move(other.prepared_);
  }
  return *this;
}

PgConnection::~PgConnection() {
  close();
}

void PgConnection::close() {
  if (conn_ == nullptr) return;
  if (const int fd = PQsocket(conn_); fd >= 0) forget(fd);
  PQfinish(conn_);
  conn_ = nullptr;
  prepared_.clear();  // prepared statements live and die with the session
}

int PgConnection::backend_pid() const {
  return conn_ ? PQbackendPID(conn_) : 0;
}

void PgConnection::fail(const std::string& what) {
  const std::string message = what + ": " + one_line(conn_ ? PQerrorMessage(conn_) : "");
  close();
  throw PgConnectionError(message);
}

void PgConnection::flush(Deadline deadline) {
  for (;;) {
    const int r = PQflush(conn_);
    if (r == 0) return;
    if (r < 0) fail("cannot send to PostgreSQL");
    // Libpq asks us to wait until writable, but also to read meanwhile so the
    // server is never blocked writing to us.
    if (!wait_for(PQsocket(conn_), Interest::writable, deadline)) {
      close();
      throw PgConnectionError("timed out sending to PostgreSQL");
    }
    if (PQconsumeInput(conn_) == 0) fail("lost the PostgreSQL connection");
  }
}

PgResult PgConnection::finish(std::string_view what, Deadline deadline) {
  flush(deadline);
  std::optional<PgResult> last;
  std::optional<PgError> error;
  for (;;) {
    while (PQisBusy(conn_) != 0) {
      if (!wait_for(PQsocket(conn_), Interest::readable, deadline)) {
        close();
        throw PgConnectionError("timed out waiting for PostgreSQL: " + std::string(what));
      }
      if (PQconsumeInput(conn_) == 0) fail("lost the PostgreSQL connection");
    }
    pg_result* raw = PQgetResult(conn_);
    if (raw == nullptr) break;
    PgResult result(raw);
    const auto status = PQresultStatus(raw);
    if (status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR ||
        status == PGRES_BAD_RESPONSE) {
      const char* state = PQresultErrorField(raw, PG_DIAG_SQLSTATE);
      if (!error) error.emplace(state ? state : "", one_line(PQresultErrorMessage(raw)));
    } else {
      last.emplace(std::move(result));
    }
  }
  if (PQstatus(conn_) == CONNECTION_BAD) fail("lost the PostgreSQL connection");
  if (error) throw *error;
  if (!last) throw PgConnectionError("PostgreSQL returned no result");
  return std::move(*last);
}

PgResult PgConnection::exec(std::string_view sql, const std::vector<PgParam>& params,
                            Deadline deadline) {
  if (conn_ == nullptr) throw PgConnectionError("the PostgreSQL connection is closed");
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  const std::string statement(sql);
  if (PQsendQueryParams(conn_, statement.c_str(), static_cast<int>(values.size()), nullptr,
                        values.data(), nullptr, nullptr, 0) == 0) {
    fail("cannot send a query to PostgreSQL");
  }
  return finish(sql, deadline);
}

std::string PgConnection::prepared_statement_name(std::string_view sql) {
  return "orgquake_" + StableHash{}.add(sql).hex();
}

PgResult PgConnection::exec_prepared(std::string_view sql, const std::vector<PgParam>& params,
                                     Deadline deadline) {
  if (conn_ == nullptr) throw PgConnectionError("the PostgreSQL connection is closed");
  const std::string name = prepared_statement_name(sql);
  if (prepared_.count(name) == 0) {
    const std::string statement(sql);
    if (PQsendPrepare(conn_, name.c_str(), statement.c_str(), static_cast<int>(params.size()),
                      nullptr) == 0) {
      fail("cannot send a statement to prepare to PostgreSQL");
    }
    finish(sql, deadline);
    prepared_.insert(name);
  }
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const auto& p : params) values.push_back(p ? p->c_str() : nullptr);
  if (PQsendQueryPrepared(conn_, name.c_str(), static_cast<int>(values.size()), values.data(),
                          nullptr, nullptr, 0) == 0) {
    fail("cannot send a query to PostgreSQL");
  }
  return finish(sql, deadline);
}

PgResult PgConnection::exec_script(std::string_view sql, Deadline deadline) {
  if (conn_ == nullptr) throw PgConnectionError("the PostgreSQL connection is closed");
  const std::string script(sql);
  if (PQsendQuery(conn_, script.c_str()) == 0) fail("cannot send a query to PostgreSQL");
  return finish(sql, deadline);
}

}  // namespace orgquake::io
