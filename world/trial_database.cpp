#include "world/trial_database.hpp"

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "migrator/schema.hpp"
#include "services/interlock.hpp"
#include "world/load_database.hpp"

namespace orgquake::world {
namespace {

void drop_database(pqxx::connection& admin, const std::string& name) {
  pqxx::nontransaction tx(admin);
  tx.exec(fmt::format("DROP DATABASE IF EXISTS {} WITH (FORCE)", tx.quote_name(name)));
}

}  // namespace

TrialDatabase::~TrialDatabase() {
  if (admin_ && keeper_) {
    keeper_(name_);
    return;
  }
  try {
    drop();
  } catch (const std::exception&) {
    // The server may already be gone (the run is ending); nothing to undo then.
  }
}

void TrialDatabase::drop() {
  if (!admin_) return;
  auto admin = std::move(admin_);
  drop_database(*admin, name_);
}

TemplateDatabase TemplateDatabase::create(services::Services& services, const world::World& world) {
  const auto started = std::chrono::steady_clock::now();
  auto admin = std::make_shared<pqxx::connection>(services.admin_url().conninfo());
  TemplateDatabase tpl(services, admin);
  tpl.name_ = services.unique_database_name("orgquake_tpl");
  tpl.url_ = services.admin_url().with_database(tpl.name_);
  {
    pqxx::nontransaction tx(*admin);
    if (auto base = services.schema_base_database()) {
      tx.exec(fmt::format("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY",
                          tx.quote_name(tpl.name_), tx.quote_name(*base)));
    } else {
      // template0: an external server's template1 may hold anything.
      tx.exec(fmt::format("CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8'",
                          tx.quote_name(tpl.name_)));
    }
  }
  {
    pqxx::connection connection(tpl.url_.conninfo());
    if (!services.schema_base_database()) {
      schema::apply(connection);
      services::write_marker(connection, "trial template orgquake created");
    }
    world::load_into_database(connection, world);
    pqxx::nontransaction(connection).exec("ANALYZE");
  }
  tpl.build_time_ = std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - started);
  return tpl;
}

TemplateDatabase::~TemplateDatabase() {
  if (!admin_) return;
  try {
    if (kept_->name) drop_database(*admin_, *kept_->name);
    drop_database(*admin_, name_);
  } catch (const std::exception&) {
    // As for trials: a server that is gone has nothing left to drop.
  }
}

TrialDatabase TemplateDatabase::clone() {
  const std::string name = services_->unique_database_name("orgquake_trial");
  pqxx::nontransaction tx(*admin_);
  tx.exec(fmt::format("CREATE DATABASE {} TEMPLATE {} STRATEGY FILE_COPY", tx.quote_name(name),
                      tx.quote_name(name_)));
  ++clones_;
  return TrialDatabase(admin_, name, services_->admin_url().with_database(name));
}

TrialDatabase TemplateDatabase::keep_on_release(const std::string& name) {
  // The keeper holds the shared state, not the template: a trial database
  // that outlives its template (it should not) is then merely forgotten.
  std::weak_ptr<Kept> kept = kept_;
  return TrialDatabase(admin_, name, services_->admin_url().with_database(name),
                       [kept](const std::string& released) {
                         if (auto state = kept.lock()) state->name = released;
                       });
}

TrialDatabase TemplateDatabase::checkout(const CheckoutHooks& hooks) {
  if (auto name = std::exchange(kept_->name, std::nullopt)) {
    const auto url =
        hooks.restore_via ? hooks.restore_via(*name) : services_->admin_url().with_database(*name);
    if (pristine_ && pristine_->restore_into(url)) {
      ++restores_;
      return keep_on_release(*name);
    }
    // A trial changed the schema (or held a lock past the timeout): start over.
    if (hooks.before_drop) hooks.before_drop(*name);
    drop_database(*admin_, *name);
  }
  TrialDatabase fresh = clone();
  const std::string name = fresh.name();
  // Taken from the first clone rather than the template, which must stay
  // free of sessions to be cloned.
  if (!pristine_) pristine_ = DatabaseSnapshot::take(fresh.url());
  fresh.forget();
  return keep_on_release(name);
}

}  // namespace orgquake::world
