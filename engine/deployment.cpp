#include "engine/deployment.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

namespace orgquake::engine {
namespace {

std::string quoted(pqxx::connection& connection, const std::string& name) {
  return connection.quote_name(name);
}

}  // namespace

void set_rollout_flag(const services::PgUrl& url, std::int64_t version, int percentage,
                      const std::vector<std::string>& allow_list) {
  pqxx::connection connection(url.conninfo());
  pqxx::work tx(connection);
  // The allow list goes as JSON, so that no id needs array quoting.
  tx.exec_params0(
      "UPDATE rollout_flag SET percentage = $1, "
      "allow_list = ARRAY(SELECT json_array_elements_text($2::json)), version = $3 "
      "WHERE name = 'org_path'",
      percentage, nlohmann::json(allow_list).dump(), version);
  tx.commit();
}

void back_up_database(const services::PgUrl& admin, const std::string& name,
                      const std::string& backup) {
  pqxx::connection connection(admin.conninfo());
  pqxx::nontransaction tx(connection);
  tx.exec0("CREATE DATABASE " + quoted(connection, backup) + " TEMPLATE " +
           quoted(connection, name) + " STRATEGY FILE_COPY");
}

void restore_database(const services::PgUrl& admin, const std::string& name,
                      const std::string& backup) {
  pqxx::connection connection(admin.conninfo());
  pqxx::nontransaction tx(connection);
  tx.exec0("DROP DATABASE IF EXISTS " + quoted(connection, name) + " WITH (FORCE)");
  tx.exec0("CREATE DATABASE " + quoted(connection, name) + " TEMPLATE " +
           quoted(connection, backup) + " STRATEGY FILE_COPY");
}

void drop_database(const services::PgUrl& admin, const std::string& name) {
  pqxx::connection connection(admin.conninfo());
  pqxx::nontransaction tx(connection);
  tx.exec0("DROP DATABASE IF EXISTS " + quoted(connection, name) + " WITH (FORCE)");
}

}  // namespace orgquake::engine

namespace orgquake::engine {

SchemaAttempt attempt_schema_step(const services::PgUrl& url,
                                  const std::vector<std::string>& statements,
                                  std::chrono::milliseconds lock_timeout, bool in_transaction) {
  pqxx::connection connection(url.conninfo());
  try {
    pqxx::nontransaction session(connection);
    session.exec0(fmt::format("SET lock_timeout = '{}ms'", lock_timeout.count()));
    session.commit();
    if (in_transaction) {
      pqxx::work tx(connection);
      for (const auto& statement : statements) tx.exec0(statement);
      tx.commit();
    } else {
      pqxx::nontransaction each(connection);
      for (const auto& statement : statements) each.exec0(statement);
    }
    return {true, false};
  } catch (const pqxx::sql_error& e) {
    if (e.sqlstate() == "55P03") return {false, true};
    throw;
  }
}

std::int64_t count_rows(const services::PgUrl& url, const std::string& sql) {
  pqxx::connection connection(url.conninfo());
  pqxx::nontransaction tx(connection);
  return tx.exec1(sql)[0].as<std::int64_t>();
}

struct TableLockHolder::Session {
  pqxx::connection connection;
  pqxx::work tx;
  Session(const services::PgUrl& url, const std::string& table)
      : connection(url.conninfo()), tx(connection) {
    tx.exec0("LOCK TABLE " + connection.quote_name(table) + " IN ACCESS SHARE MODE");
  }
};

TableLockHolder::TableLockHolder(const services::PgUrl& url, const std::string& table)
    : session_(std::make_unique<Session>(url, table)) {}

TableLockHolder::~TableLockHolder() {
  try {
    session_->tx.abort();
  } catch (const std::exception&) {
    // The connection closes with the session: the lock goes with it.
  }
}

}  // namespace orgquake::engine
