#include "world/load_database.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

namespace orgquake::world {
namespace {

// Multi-row INSERTs in batches: one round trip per batch, bounded statement size.
constexpr std::size_t kRowsPerStatement = 500;

// Call flush() after the last add(): a destructor must not run SQL that can throw.
class BatchInserter {
 public:
  BatchInserter(pqxx::work& tx, std::string head) : tx_(tx), head_(std::move(head)) {}
  void add(const std::string& row_values) {
    sql_ += rows_ == 0 ? head_ + " VALUES " : ",";
    sql_ += "(" + row_values + ")";
    if (++rows_ == kRowsPerStatement) flush();
  }

  void flush() {
    if (rows_ == 0) return;
    tx_.exec(sql_);
    sql_.clear();
    rows_ = 0;
  }

 private:
  pqxx::work& tx_;
  std::string head_;
  std::string sql_;
  std::size_t rows_ = 0;
};

}  // namespace

void load_into_database(pqxx::connection& connection, const World& world) {
  pqxx::work tx(connection);
  auto q = [&](const std::string& s) { return tx.quote(s); };
  {
    BatchInserter settings(tx,
                           "INSERT INTO user_settings (user_id, username, email, llm_api_key, "
                           "llm_model, user_version, settings)");
    for (const auto& u : world.users) {
      settings.add(fmt::format("{},{},{},{},{},{},{}::jsonb", q(u.user_id), q(u.username),
                               q(u.email), u.llm_api_key ? q(*u.llm_api_key) : "NULL",
                               q(u.llm_model), u.user_version, q(u.settings_json)));
    }
    settings.flush();
  }
  {
    BatchInserter customers(tx,
                            "INSERT INTO stripe_customers (id, user_id, stripe_customer_id, "
                            "created_at)");
    long long id = 0;
    for (const auto& u : world.users) {
      if (!u.stripe_customer_id) continue;
      customers.add(fmt::format("{},{},{},to_timestamp(1735689600 + {})", ++id, q(u.user_id),
                                q(*u.stripe_customer_id), id));
    }
    customers.flush();
    // Later inserts (a migration creating a customer) must not collide with the ids above.
    tx.exec(
        "SELECT setval(pg_get_serial_sequence('stripe_customers', 'id'), "
        "GREATEST((SELECT max(id) FROM stripe_customers), 1))");
  }
  {
    BatchInserter conversations(tx,
                                "INSERT INTO conversation_metadata (conversation_id, user_id, "
                                "title, created_at)");
    for (const auto& u : world.users) {
      for (const auto& c : u.conversations) {
        conversations.add(fmt::format("{},{},{},to_timestamp({})", q(c.id), q(u.user_id),
                                      q(c.title), c.created_at_unix));
      }
    }
    conversations.flush();
  }
  tx.commit();
}

}  // namespace orgquake::world
