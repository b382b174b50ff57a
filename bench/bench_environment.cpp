#include "bench/bench_environment.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "bench/lookup_worker_pool.hpp"
#include "core/error.hpp"
#include "migrator/verification.hpp"
#include "world/load_fakes.hpp"

namespace orgquake::bench {
namespace {

constexpr auto kConnectTimeout = std::chrono::seconds(10);

}  // namespace

BenchEnvironment::BenchEnvironment(services::Services& services, Options options)
    : options_(std::move(options)) {
  const int migrated =
      static_cast<int>(options_.membership_counts.size()) + options_.lookup_pool_users;
  world_ = world::generate({options_.world_seed, migrated + options_.unmigrated_users});
  const auto& redis_url = services.redis_url();
  redis_ = {redis_url.host, redis_url.port, redis_url.password, redis_url.database, {}};
  template_ =
      std::make_unique<world::TemplateDatabase>(world::TemplateDatabase::create(services, world_));
  trial_ = std::make_unique<world::TrialDatabase>(template_->clone());
  // Before the fakes start: their threads inherit this thread's CPU, so a
  // migration's HTTP calls do not cross vCPUs either.
  if (options_.pin_to_one_cpu) pin_to_one_cpu(services);
  stripe_ = std::make_unique<fakes::StripeFake>(fakes::ServerOptions{}, fakes::StripeOptions{},
                                                options_.world_seed);
  litellm_ = std::make_unique<fakes::LitellmFake>(fakes::ServerOptions{}, fakes::LitellmOptions{},
                                                  options_.world_seed);
  stripe_->start();
  litellm_->start();
  world::load_world(*stripe_, world_);
  world::load_world(*litellm_, world_);
  main_client_ = connect();
  share_benchmark_cpu(main_client_->pg.backend_pid());
  postgres_version_ = std::string(main_client_->pg.exec("SHOW server_version").text(0, 0));

  // World order decides who plays which part, so equal seeds give equal runs.
  std::size_t next = 0;
  std::vector<std::string> to_migrate;
  for (int count : options_.membership_counts) {
    user_by_memberships_[count] = world_.users[next].user_id;
    to_migrate.push_back(world_.users[next++].user_id);
  }
  for (int i = 0; i < options_.lookup_pool_users; ++i) {
    lookup_pool_.push_back(world_.users[next].user_id);
    to_migrate.push_back(world_.users[next++].user_id);
  }
  for (; next < world_.users.size(); ++next) unmigrated_.push_back(world_.users[next].user_id);
  migrate_users(to_migrate);
  add_background_users();
  add_team_memberships();  // last: it analyzes the tables
}

std::unique_ptr<BenchEnvironment> BenchEnvironment::build(services::Services& services,
                                                          Options options) {
  return std::unique_ptr<BenchEnvironment>(new BenchEnvironment(services, std::move(options)));
}

BenchEnvironment::~BenchEnvironment() {
  // Clients first: their connections point at the fakes and the database.
  worker_pool_.reset();
  main_client_.reset();
  if (stripe_) stripe_->stop();
  if (litellm_) litellm_->stop();
}

std::unique_ptr<BenchEnvironment::Client> BenchEnvironment::connect() const {
  migrator::MigratorEndpoints endpoints;
  endpoints.pg_conninfo = trial_->url().conninfo();
  endpoints.redis = redis_;
  endpoints.stripe_port = stripe_->port();
  endpoints.stripe_secret_key = stripe_->secret_key();
  endpoints.litellm_port = litellm_->port();
  endpoints.litellm_master_key = litellm_->master_key();
  return migrator::MigratorClient::connect(endpoints, io::after(kConnectTimeout));
}

const std::string& BenchEnvironment::user_with_memberships(int count) const {
  const auto it = user_by_memberships_.find(count);
  if (it == user_by_memberships_.end()) {
    throw std::logic_error(fmt::format("no benchmark user with {} memberships", count));
  }
  return it->second;
}

std::optional<std::string> BenchEnvironment::take_unmigrated_user() {
  if (next_unmigrated_ >= unmigrated_.size()) return std::nullopt;
  return unmigrated_[next_unmigrated_++];
}

LookupWorkerPool& BenchEnvironment::worker_pool() {
  if (!worker_pool_) {
    worker_pool_ = std::make_unique<LookupWorkerPool>(*this, options_.concurrent_clients,
                                                      options_.worker_threads);
  }
  return *worker_pool_;
}

void BenchEnvironment::pin_to_one_cpu(services::Services& services) {
  if (services.embedded_postgres() == nullptr || services.embedded_redis() == nullptr) return;
  constexpr int kCpu = 0;
  if (!CpuAffinity::pin(0, kCpu)) return;  // not allowed here: measure unpinned
  benchmark_cpu_ = kCpu;
  CpuAffinity::pin(services.embedded_redis()->pid(), kCpu);
}

void BenchEnvironment::share_benchmark_cpu(int backend_pid) const {
  if (benchmark_cpu_) CpuAffinity::pin(backend_pid, *benchmark_cpu_);
}

std::string BenchEnvironment::pinning_description() const {
  if (!benchmark_cpu_) return "off";
  return fmt::format("benchmark thread, its PostgreSQL backends, Redis and the fakes on CPU {}",
                     *benchmark_cpu_);
}

void BenchEnvironment::migrate_users(const std::vector<std::string>& ids) {
  // The reference migrator, as the lookups will find its work: the same
  // rows a production migration leaves.
  auto migrator = migrator::make_reference_migrator();
  auto ctx = main_client_->context(options_.world_seed);
  for (const auto& id : ids) migrator->migrate_user(ctx, id, 0);
}

void BenchEnvironment::add_background_users() {
  // The rows the reference migration leaves for a user (settings, personal
  // org, app user, owner membership), written by SQL in one statement each:
  // seconds of migrations for 20000 users, milliseconds this way.
  auto& pg = main_client_->pg;
  const std::string count = std::to_string(options_.background_users);
  pg.exec(
      "INSERT INTO user_settings (user_id, username, email, already_migrated) "
      "SELECT 'orgquake-bench-bg-' || n, 'background ' || n, 'bg' || n || '@bench.invalid', true "
      "FROM generate_series(1, $1::int) AS n",
      {count});
  pg.exec(
      "INSERT INTO org (id, name, kind, owner_user_id, contact_email) "
      "SELECT md5('orgquake-bench-bg-org-' || n)::uuid, 'orgquake bench background ' || n, "
      "'personal', 'orgquake-bench-bg-' || n, 'bg' || n || '@bench.invalid' "
      "FROM generate_series(1, $1::int) AS n",
      {count});
  pg.exec(
      "INSERT INTO app_user (id, legacy_user_id, current_org_id, email) "
      "SELECT md5('orgquake-bench-bg-user-' || n)::uuid, 'orgquake-bench-bg-' || n, "
      "md5('orgquake-bench-bg-org-' || n)::uuid, 'bg' || n || '@bench.invalid' "
      "FROM generate_series(1, $1::int) AS n",
      {count});
  pg.exec(
      "INSERT INTO org_member (org_id, user_id, role_id, llm_api_key) "
      "SELECT md5('orgquake-bench-bg-org-' || n)::uuid, md5('orgquake-bench-bg-user-' || n)::uuid, "
      "(SELECT id FROM role WHERE name = 'owner'), 'sk-bg-' || n "
      "FROM generate_series(1, $1::int) AS n",
      {count});
}

void BenchEnvironment::add_team_memberships() {
  auto& pg = main_client_->pg;
  const int most =
      *std::max_element(options_.membership_counts.begin(), options_.membership_counts.end());
  // Team orgs that the users join as members; ids derived from the name so
  // that every run has the same rows (and the same plans).
  pg.exec(
      "INSERT INTO org (id, name, kind, owner_user_id, contact_email) "
      "SELECT md5('orgquake-bench-team-' || n)::uuid, 'orgquake bench team ' || n, 'team', "
      "'orgquake-bench', NULL FROM generate_series(1, $1::int) AS n",
      {std::to_string(std::max(most - 1, 0))});
  for (const auto& [count, legacy_id] : user_by_memberships_) {
    pg.exec(
        "INSERT INTO org_member (org_id, user_id, role_id, llm_api_key) "
        "SELECT t.id, u.id, (SELECT id FROM role WHERE name = 'member'), NULL "
        "FROM app_user u, (SELECT id FROM org WHERE kind = 'team' "
        "AND owner_user_id = 'orgquake-bench' ORDER BY name LIMIT $2::int) t "
        "WHERE u.legacy_user_id = $1",
        {legacy_id, std::to_string(count - 1)});
  }
  // Fresh statistics, as a long-running database would have: plans for
  // the lookups should not depend on when autovacuum last came by.
  pg.exec_script("ANALYZE");
  for (const auto& [count, legacy_id] : user_by_memberships_) {
    const auto user = migrator::load_user(pg, legacy_id, migrator::LoadStrategy::joined);
    if (!user || static_cast<int>(user->memberships.size()) != count) {
      throw EnvironmentError(
          fmt::format("benchmark setup: user {} should have {} memberships, has {}", legacy_id,
                      count, user ? static_cast<int>(user->memberships.size()) : -1));
    }
    migrator::verify(*user);
  }
}

}  // namespace orgquake::bench
