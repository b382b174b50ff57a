#include "bench/pipelined_n_plus_one.hpp"

#include <algorithm>
#include <memory>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "core/error.hpp"

namespace orgquake::bench {
namespace {

// The statements of migrator/loading.cpp's load_n_plus_one, word for word:
// the benchmark compares round trips, not SQL. The loaded user is checked
// against load_user(n_plus_one) before measuring, so a drift shows.
constexpr const char* kUserSql =
    "SELECT u.id, u.legacy_user_id, u.current_org_id, u.email FROM app_user u "
    "WHERE u.legacy_user_id = $1";
constexpr const char* kPersonalOrgSql =
    "SELECT id, name, kind, owner_user_id, contact_email FROM org "
    "WHERE owner_user_id = $1 AND kind = 'personal'";
constexpr const char* kMembershipsSql = "SELECT org_id FROM org_member WHERE user_id = $1";
constexpr const char* kMemberSql =
    "SELECT role_id, llm_api_key FROM org_member WHERE org_id = $1 AND user_id = $2";
constexpr const char* kOrgSql =
    "SELECT id, name, kind, owner_user_id, contact_email FROM org WHERE id = $1";
constexpr const char* kRoleSql = "SELECT id, name, rank FROM role WHERE id = $1";

struct Statement {
  const char* sql;
  std::vector<std::string> params;
};

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

migrator::Org org_from(const Result& r, int row) {
  return {text(r, row, 0), text(r, row, 1), text(r, row, 2), text(r, row, 3),
          optional_text(r, row, 4)};
}

// Sends every statement, one Sync, then reads every result: one round trip.
std::vector<Result> round_trip(PGconn* conn, const std::vector<Statement>& statements) {
  for (const auto& s : statements) {
    std::vector<const char*> values;
    for (const auto& p : s.params) values.push_back(p.c_str());
    if (PQsendQueryParams(conn, s.sql, static_cast<int>(values.size()), nullptr, values.data(),
                          nullptr, nullptr, 0) == 0) {
      throw std::runtime_error(fmt::format("pipelined send: {}", PQerrorMessage(conn)));
    }
  }
  if (PQpipelineSync(conn) == 0) {
    throw std::runtime_error(fmt::format("pipeline sync: {}", PQerrorMessage(conn)));
  }
  std::vector<Result> results;
  std::string error;
  for (std::size_t i = 0; i < statements.size(); ++i) {
    Result r(PQgetResult(conn));
    if (!r) throw std::runtime_error(fmt::format("pipeline: {}", PQerrorMessage(conn)));
    if (PQresultStatus(r.get()) != PGRES_TUPLES_OK && error.empty()) {
      error = PQresultErrorMessage(r.get());
      if (error.empty()) error = PQresStatus(PQresultStatus(r.get()));
    }
    results.push_back(std::move(r));
    Result end_of_statement(PQgetResult(conn));  // nullptr between statements' results
  }
  // Read up to the Sync even after an error, so the connection stays usable.
  Result sync(PQgetResult(conn));
  if (!sync || PQresultStatus(sync.get()) != PGRES_PIPELINE_SYNC) {
    throw std::runtime_error(fmt::format("pipeline out of step: {}", PQerrorMessage(conn)));
  }
  if (!error.empty()) throw std::runtime_error(fmt::format("pipelined statement: {}", error));
  return results;
}

}  // namespace

PipelinedNPlusOne::PipelinedNPlusOne(const std::string& conninfo)
    : conn_(PQconnectdb(conninfo.c_str())) {
  if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
    const std::string message = conn_ ? PQerrorMessage(conn_) : "out of memory";
    PQfinish(conn_);
    throw EnvironmentError(fmt::format("pipelined benchmark connection: {}", message));
  }
  if (PQenterPipelineMode(conn_) == 0) {
    const std::string message = PQerrorMessage(conn_);
    PQfinish(conn_);
    throw EnvironmentError(fmt::format("libpq pipeline mode unavailable: {}", message));
  }
}

PipelinedNPlusOne::~PipelinedNPlusOne() {
  PQfinish(conn_);
}

int PipelinedNPlusOne::backend_pid() const {
  return PQbackendPID(conn_);
}

std::optional<migrator::LoadedUser> PipelinedNPlusOne::load(const std::string& legacy_user_id) {
  round_trips_ = 0;
  statements_ = 0;
  const auto send = [&](const std::vector<Statement>& statements) {
    ++round_trips_;
    statements_ += static_cast<int>(statements.size());
    return round_trip(conn_, statements);
  };

  // 1: the user and the personal org, both keyed by the legacy id.
  const auto first = send({{kUserSql, {legacy_user_id}}, {kPersonalOrgSql, {legacy_user_id}}});
  const Result& users = first[0];
  if (PQntuples(users.get()) == 0) return std::nullopt;
  migrator::LoadedUser user;
  user.id = text(users, 0, 0);
  user.legacy_user_id = text(users, 0, 1);
  user.current_org_id = optional_text(users, 0, 2);
  user.email = optional_text(users, 0, 3);
  if (PQntuples(first[1].get()) > 0) user.personal_org = org_from(first[1], 0);

  // 2: the membership list needs app_user.id from round 1.
  const auto second = send({{kMembershipsSql, {user.id}}});
  std::vector<std::string> org_ids;
  for (int i = 0; i < PQntuples(second[0].get()); ++i) org_ids.push_back(text(second[0], i, 0));
  if (org_ids.empty()) return user;

  // 3: each membership row and its org.
  std::vector<Statement> per_membership;
  for (const auto& org_id : org_ids) {
    per_membership.push_back({kMemberSql, {org_id, user.id}});
    per_membership.push_back({kOrgSql, {org_id}});
  }
  const auto third = send(per_membership);

  // 4: each membership's role, named by the rows of round 3.
  std::vector<Statement> roles;
  std::vector<std::size_t> kept;  // memberships whose rows still existed
  for (std::size_t i = 0; i < org_ids.size(); ++i) {
    if (PQntuples(third[2 * i].get()) == 0 || PQntuples(third[2 * i + 1].get()) == 0) continue;
    roles.push_back({kRoleSql, {text(third[2 * i], 0, 0)}});
    kept.push_back(i);
  }
  const auto fourth = roles.empty() ? std::vector<Result>{} : send(roles);
  for (std::size_t k = 0; k < kept.size(); ++k) {
    const std::size_t i = kept[k];
    if (PQntuples(fourth[k].get()) == 0) continue;
    user.memberships.push_back({org_from(third[2 * i + 1], 0),
                                {std::stoi(text(fourth[k], 0, 0)), text(fourth[k], 0, 1),
                                 std::stoi(text(fourth[k], 0, 2))},
                                optional_text(third[2 * i], 0, 1)});
  }
  std::sort(user.memberships.begin(), user.memberships.end(),
            [](const migrator::Membership& a, const migrator::Membership& b) {
              return a.org.id < b.org.id;
            });
  return user;
}

}  // namespace orgquake::bench
