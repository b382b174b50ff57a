#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "bench/cpu_pinning.hpp"
#include "fakes/litellm_fake.hpp"
#include "fakes/stripe_fake.hpp"
#include "migrator/io/http_client.hpp"
#include "migrator/io/pg_connection.hpp"
#include "migrator/io/redis_client.hpp"
#include "migrator/migrator.hpp"
#include "migrator/migrator_client.hpp"
#include "services/services.hpp"
#include "world/trial_database.hpp"
#include "world/world.hpp"

namespace orgquake::bench {

class LookupWorkerPool;

/// What the benchmarks run against: a database holding the fixture world in
/// which some users are migrated (one with each membership count, and a pool
/// for the concurrent clients) and the rest wait for migrate/one_user; fake
/// Stripe and LiteLLM servers holding the same world; the run's Redis.
///
///   auto services = services::Services::start({});   // main thread
///   auto env = BenchEnvironment::build(*services, {.unmigrated_users = 100});
///   auto client = env->connect();
///   auto ctx = client->context(1);
class BenchEnvironment {
 public:
  struct Options {
    std::uint64_t world_seed = 2026;
    /// Users left unmigrated, for migrate/one_user to take one at a time.
    int unmigrated_users = 100;
    /// Migrated users with one membership that the concurrent clients spread over.
    int lookup_pool_users = 64;
    /// Users an earlier backfill migrated, their rows inserted in bulk, so
    /// that the tables are the size of a production database's: in tables
    /// of a hundred rows the planner scans them, and the lookups would
    /// measure a scan and a hash join that no production lookup runs.
    int background_users = 20000;
    /// Membership counts to have a migrated user for (the personal org counts as one).
    std::vector<int> membership_counts = {1, 4, 16, 64};
    /// Clients of the concurrent benchmarks (each a fiber with its own connections).
    int concurrent_clients = 256;
    int worker_threads = 2;
    /// Put the benchmark thread, its PostgreSQL backends and Redis on one
    /// CPU once set up (bench/cpu_pinning.hpp says why). Only with embedded
    /// servers: an external server's pids are not ours to move.
    bool pin_to_one_cpu = true;
  };

  /// The connections one client (one fiber, or the benchmark thread) uses.
  using Client = migrator::MigratorClient;

  /// Builds the database and the fakes and migrates the users the lookups
  /// need. Call from the main thread, after the services started there.
  static std::unique_ptr<BenchEnvironment> build(services::Services& services, Options options);
  ~BenchEnvironment();
  BenchEnvironment(const BenchEnvironment&) = delete;
  BenchEnvironment& operator=(const BenchEnvironment&) = delete;

  /// New connections, for the calling thread (a fiber's connections must be
  /// made on the thread whose reactor will wait on them).
  std::unique_ptr<Client> connect() const;

  /// The benchmark thread's own client, made once.
  Client& main_client() { return *main_client_; }

  /// A migrated user with exactly `count` memberships (1: only the owner
  /// membership of the personal org).
  const std::string& user_with_memberships(int count) const;
  const std::vector<int>& membership_counts() const { return options_.membership_counts; }
  /// Migrated users with one membership each.
  const std::vector<std::string>& lookup_pool() const { return lookup_pool_; }
  /// The next user nobody migrated yet; nullopt when they ran out.
  std::optional<std::string> take_unmigrated_user();

  const services::PgUrl& database_url() const { return trial_->url(); }
  const world::World& world() const { return world_; }
  const std::string& postgres_version() const { return postgres_version_; }

  /// Moves a PostgreSQL backend that the benchmark thread talks to onto the
  /// benchmark thread's CPU, when pinning is on.
  void share_benchmark_cpu(int backend_pid) const;
  /// What the process could run on before pinning: worker threads take it back.
  const CpuAffinity& all_cpus() const { return all_cpus_; }
  /// "off", or what shares which CPU, for the results' context.
  std::string pinning_description() const;

  /// The concurrent clients, made on first use and kept for the run (making
  /// 256 connections takes longer than the benchmark that uses them).
  LookupWorkerPool& worker_pool();

 private:
  BenchEnvironment(services::Services& services, Options options);
  void migrate_users(const std::vector<std::string>& ids);
  void pin_to_one_cpu(services::Services& services);
  void add_team_memberships();
  void add_background_users();

  Options options_;
  world::World world_;
  io::RedisEndpoint redis_;
  std::unique_ptr<world::TemplateDatabase> template_;
  std::unique_ptr<world::TrialDatabase> trial_;
  std::unique_ptr<fakes::StripeFake> stripe_;
  std::unique_ptr<fakes::LitellmFake> litellm_;
  std::unique_ptr<Client> main_client_;
  std::map<int, std::string> user_by_memberships_;
  std::vector<std::string> lookup_pool_;
  std::vector<std::string> unmigrated_;
  std::size_t next_unmigrated_ = 0;
  std::string postgres_version_;
  CpuAffinity all_cpus_ = CpuAffinity::of_this_thread();
  std::optional<int> benchmark_cpu_;  ///< set when pinned
  std::unique_ptr<LookupWorkerPool> worker_pool_;
};

}  // namespace orgquake::bench
