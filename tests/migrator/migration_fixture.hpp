#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "fakes/litellm_fake.hpp"
#include "fakes/stripe_fake.hpp"
#include "migrator/io/http_client.hpp"
#include "migrator/io/pg_connection.hpp"
#include "migrator/io/redis_client.hpp"
#include "migrator/migrator.hpp"
#include "migrator/migrator_client.hpp"
#include "world/trial_database.hpp"
#include "world/world.hpp"

namespace orgquake::test {

/// Where a migration runs: a fresh clone of a fixture world's database, fresh
/// fake Stripe and LiteLLM servers holding the same world, and the shared
/// Redis (flushed). Connections for one client; `Client` makes more.
class MigrationFixture {
 public:
  explicit MigrationFixture(int users = 40, std::uint64_t world_seed = 2026);
  ~MigrationFixture();

  /// The connections one client (one fiber, or one child process) uses.
  using Client = migrator::MigratorClient;
  /// New connections to this fixture's servers. Call it in the process (and
  /// on the thread, for fibers) that will use them.
  std::unique_ptr<Client> connect(migrator::LockOptions lock = short_lock()) const;

  /// Leases short enough for tests to outlive them.
  static migrator::LockOptions short_lock();

  const world::World& world() const { return world_; }
  /// The first user carrying `flag`.
  const world::LegacyUser& user_with(world::EdgeCase flag) const;
  /// A user with a Stripe customer and no other edge case.
  const world::LegacyUser& plain_user() const;

  /// Everything a migration of `user` leaves behind, in the database and in
  /// both fakes, as canonical text without timestamps: two end states are
  /// equal when the text is.
  std::string end_state(const world::LegacyUser& user);

  fakes::StripeFake& stripe() { return *stripe_; }
  fakes::LitellmFake& litellm() { return *litellm_; }
  io::PgConnection& pg() { return admin_->pg; }
  const services::PgUrl& database_url() const { return trial_->url(); }

 private:
  world::World world_;
  io::RedisEndpoint redis_;  ///< read on the main thread, where the shared servers live
  std::unique_ptr<world::TemplateDatabase> template_;
  std::unique_ptr<world::TrialDatabase> trial_;
  std::unique_ptr<fakes::StripeFake> stripe_;
  std::unique_ptr<fakes::LitellmFake> litellm_;
  std::unique_ptr<Client> admin_;
};

/// A Stripe metadata value, or "" when the key is absent.
std::string metadata_value(const std::map<std::string, std::string>& metadata,
                           const std::string& key);

/// Runs `body` in a forked child process with its own connections and
/// returns the child's wait status. The child exits 0 when body returns,
/// 3 when it throws; a failpoint's crash kills it with SIGKILL.
template <typename Body>
int in_child_process(const MigrationFixture& fixture, Body body);

}  // namespace orgquake::test

#include "tests/migrator/migration_fixture_impl.hpp"
