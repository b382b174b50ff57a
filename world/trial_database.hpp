#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <pqxx/connection>

#include "services/services.hpp"
#include "world/database_snapshot.hpp"
#include "world/world.hpp"

namespace orgquake::world {

/// One trial's private database, with the template's content. Dropped when
/// destroyed, or, when it came from TemplateDatabase::checkout(), handed
/// back to be restored in place for the next trial.
class TrialDatabase {
 public:
  using Keeper = std::function<void(const std::string& name)>;
  TrialDatabase(std::shared_ptr<pqxx::connection> admin, std::string name, services::PgUrl url,
                Keeper keeper = {})
      : admin_(std::move(admin)),
        name_(std::move(name)),
        url_(std::move(url)),
        keeper_(std::move(keeper)) {}
  TrialDatabase(TrialDatabase&&) = default;
  TrialDatabase& operator=(TrialDatabase&&) = delete;
  ~TrialDatabase();

  const std::string& name() const { return name_; }
  const services::PgUrl& url() const { return url_; }
  /// Drops the database now (terminating its sessions); idempotent.
  void drop();
  /// Lets go of the database, neither dropping it nor handing it back.
  void forget() { admin_.reset(); }

 private:
  std::shared_ptr<pqxx::connection> admin_;
  std::string name_;
  services::PgUrl url_;
  Keeper keeper_;
};

/// A template database holding the schema and one fixture world, from which
/// every trial gets a fresh copy in milliseconds:
///
///   auto tpl = TemplateDatabase::create(services, world::generate({seed, 1000}));
///   TrialDatabase trial = tpl.clone();   // CREATE DATABASE ... TEMPLATE ... STRATEGY FILE_COPY
///
/// Every database it creates carries the marker table (it is copied from the
/// template), so the interlock accepts them and only them.
class TemplateDatabase {
 public:
  static TemplateDatabase create(services::Services& services, const world::World& world);
  TemplateDatabase(TemplateDatabase&&) = default;
  TemplateDatabase& operator=(TemplateDatabase&&) = delete;
  ~TemplateDatabase();

  const std::string& name() const { return name_; }
  const services::PgUrl& url() const { return url_; }
  /// How long building the template (schema, world rows, ANALYZE) took.
  std::chrono::microseconds build_time() const { return build_time_; }

  /// A new database with the template's content. The template must have no
  /// open sessions, which is why this class never keeps one.
  TrialDatabase clone();

  /// A database with the template's content that, once its trial is done,
  /// is kept rather than dropped: the next checkout() restores it in place
  /// (DatabaseSnapshot), so that sessions to it (a SessionPool's) live on.
  /// A database whose schema a trial changed is dropped, after
  /// `before_drop(name)`, and a new clone takes its place. `restore_via`
  /// names where to connect to restore a database (a session pool's URL,
  /// whose kept session saves a backend a trial); none: straight to it.
  struct CheckoutHooks {
    std::function<void(const std::string& name)> before_drop;
    std::function<services::PgUrl(const std::string& name)> restore_via;
  };
  TrialDatabase checkout(const CheckoutHooks& hooks = {});

  /// Lets go of the template and the database it keeps, dropping neither:
  /// for a server stopped next with its data (an embedded one at the end of
  /// a run), where dropping them only costs time (a DROP DATABASE takes
  /// 50 to 200 ms here).
  void forget() { admin_.reset(); }

  /// How trials got their databases: new clones, and databases restored in place.
  int clones_made() const { return clones_; }
  int restores_made() const { return restores_; }

 private:
  struct Kept {
    std::optional<std::string> name;  // a database a trial handed back
  };
  TrialDatabase keep_on_release(const std::string& name);

  TemplateDatabase(services::Services& services, std::shared_ptr<pqxx::connection> admin)
      : services_(&services), admin_(std::move(admin)) {}
  services::Services* services_;
  std::shared_ptr<pqxx::connection> admin_;
  std::string name_;
  services::PgUrl url_;
  std::chrono::microseconds build_time_{0};
  std::shared_ptr<Kept> kept_ = std::make_shared<Kept>();
  std::optional<DatabaseSnapshot> pristine_;  // of the first checkout, before its trial
  int clones_ = 0;
  int restores_ = 0;
};

}  // namespace orgquake::world
