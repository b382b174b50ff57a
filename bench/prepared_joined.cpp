#include "bench/prepared_joined.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "harness/core/error.hpp"

namespace orgquake::bench {
namespace {

// migrator/loading.cpp's load_joined statement, word for word; the loaded
// user is checked against load_user(joined) before measuring.
constexpr const char* kJoinedSql =
    "SELECT u.id, u.legacy_user_id, u.current_org_id, u.email, "
    "p.id, p.name, p.kind, p.owner_user_id, p.contact_email, "
    "o.id, o.name, o.kind, o.owner_user_id, o.contact_email, "
    "r.id, r.name, r.rank, m.llm_api_key "
    "FROM app_user u "
    "LEFT JOIN org p ON p.owner_user_id = u.legacy_user_id AND p.kind = 'personal' "
    "LEFT JOIN org_member m ON m.user_id = u.id "
    "LEFT JOIN org o ON o.id = m.org_id "
    "LEFT JOIN role r ON r.id = m.role_id "
    "WHERE u.legacy_user_id = $1";
constexpr const char* kStatementName = "orgquake_bench_joined";

struct ResultFree {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, ResultFree>;

std::string text(const Result& r, int row, int column) {
  return PQgetvalue(r.get(), row, column);
}

std::optional<std::string> optional_text(const Result& r, int row, int column) {
  if (PQgetisnull(r.get(), row, column)) return std::nullopt;
  return text(r, row, column);
}

migrator::Org org_from(const Result& r, int row, int first) {
  return {text(r, row, first), text(r, row, first + 1), text(r, row, first + 2),
          text(r, row, first + 3), optional_text(r, row, first + 4)};
}

}  // namespace

PreparedJoined::PreparedJoined(const std::string& conninfo) : conn_(PQconnectdb(conninfo.c_str())) {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = conn_ ? PQerrorMessage(conn_) : "out of memory";
    PQfinish(conn_);
    throw EnvironmentError(fmt::format("prepared-statement benchmark connection: {}", message));
  }
  Result prepared(PQprepare(conn_, kStatementName, kJoinedSql, 1, nullptr));
  if (PQresultStatus(prepared.get()) != PGRES_COMMAND_OK) {
    const std::string message = PQresultErrorMessage(prepared.get());
    PQfinish(conn_);
    throw EnvironmentError(fmt::format("cannot prepare the joined lookup: {}", message));
  }
}

PreparedJoined::~PreparedJoined() {
  PQfinish(conn_);
}

int PreparedJoined::backend_pid() const {
  return PQbackendPID(conn_);
}

std::optional<migrator::LoadedUser> PreparedJoined::load(const std::string& legacy_user_id) {
  const char* values[] = {legacy_user_id.c_str()};
  Result r(PQexecPrepared(conn_, kStatementName, 1, values, nullptr, nullptr, 0));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) {
    throw std::runtime_error(fmt::format("prepared lookup: {}", PQresultErrorMessage(r.get())));
  }
  if (PQntuples(r.get()) == 0) return std::nullopt;
  migrator::LoadedUser user;
  user.id = text(r, 0, 0);
  user.legacy_user_id = text(r, 0, 1);
  user.current_org_id = optional_text(r, 0, 2);
  user.email = optional_text(r, 0, 3);
  if (!PQgetisnull(r.get(), 0, 4)) user.personal_org = org_from(r, 0, 4);
  for (int row = 0; row < PQntuples(r.get()); ++row) {
    if (PQgetisnull(r.get(), row, 9)) continue;  // no memberships: one row of NULLs
    user.memberships.push_back(
        {org_from(r, row, 9),
         {std::stoi(text(r, row, 14)), text(r, row, 15), std::stoi(text(r, row, 16))},
         optional_text(r, row, 17)});
  }
  std::sort(user.memberships.begin(), user.memberships.end(),
            [](const migrator::Membership& a, const migrator::Membership& b) {
              return a.org.id < b.org.id;
            });
  return user;
}

}  // namespace orgquake::bench
