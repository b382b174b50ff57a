#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <pqxx/connection>

#include "services/services.hpp"
#include "world/world.hpp"

namespace orgquake::world {

/// One trial's private database, a clone of the template. Dropped when destroyed.
class TrialDatabase {
 public:
  TrialDatabase(std::shared_ptr<pqxx::connection> admin, std::string name, services::PgUrl url)
      : admin_(std::move(admin)), name_(std::move(name)), url_(std::move(url)) {}
  TrialDatabase(TrialDatabase&&) = default;
  TrialDatabase& operator=(TrialDatabase&&) = delete;
  ~TrialDatabase();

  const std::string& name() const { return name_; }
  const services::PgUrl& url() const { return url_; }
  /// Drops the database now (terminating its sessions); idempotent.
  void drop();

 private:
  std::shared_ptr<pqxx::connection> admin_;
  std::string name_;
  services::PgUrl url_;
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

 private:
  TemplateDatabase(services::Services& services, std::shared_ptr<pqxx::connection> admin)
      : services_(&services), admin_(std::move(admin)) {}
  services::Services* services_;
  std::shared_ptr<pqxx::connection> admin_;
  std::string name_;
  services::PgUrl url_;
  std::chrono::microseconds build_time_{0};
};

}  // namespace orgquake::world
