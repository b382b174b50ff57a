#include "tests/migrator/migration_fixture.hpp"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>

#include "services/redis_connection.hpp"
#include "tests/support/shared_services.hpp"
#include "world/load_fakes.hpp"

namespace orgquake::test {
namespace {

std::string rows(io::PgConnection& pg, const std::string& sql,
                 const std::vector<io::PgParam>& params) {
  const auto r = pg.exec(sql, params);
  std::string out;
  for (int i = 0; i < r.rows(); ++i) {
    for (int c = 0; c < r.columns(); ++c)
      out += (c ? "|" : "") + r.optional_text(i, c).value_or("NULL");
    out += "\n";
  }
  return out;
}

std::string metadata_text(const std::map<std::string, std::string>& metadata) {
  std::string out;
  for (const auto& [k, v] : metadata) out += k + "=" + v + ";";  // std::map: sorted
  return out;
}

std::string json_or_null(const std::optional<double>& v) {
  return v ? fmt::format("{}", *v) : "null";
}

}  // namespace

MigrationFixture::MigrationFixture(int users, std::uint64_t world_seed)
    : world_(world::generate({world_seed, users})) {
  auto& services = shared_services();
  const auto& redis_url = services.redis_url();
  redis_ = {redis_url.host, redis_url.port, redis_url.password, redis_url.database, {}};
  template_ =
      std::make_unique<world::TemplateDatabase>(world::TemplateDatabase::create(services, world_));
  trial_ = std::make_unique<world::TrialDatabase>(template_->clone());
  stripe_ = std::make_unique<fakes::StripeFake>(fakes::ServerOptions{}, fakes::StripeOptions{},
                                                world_seed);
  litellm_ = std::make_unique<fakes::LitellmFake>(fakes::ServerOptions{}, fakes::LitellmOptions{},
                                                  world_seed);
  stripe_->start();
  litellm_->start();
  world::load_world(*stripe_, world_);
  world::load_world(*litellm_, world_);
  // Locks and fencing counters of earlier cases must not leak into this one.
  services::RedisConnection::connect(services.redis_url(), std::chrono::seconds(2))
      .command_status({"FLUSHDB"});
  admin_ = connect();
}

MigrationFixture::~MigrationFixture() {
  admin_.reset();
  stripe_->stop();
  litellm_->stop();
}

migrator::LockOptions MigrationFixture::short_lock() {
  migrator::LockOptions lock;
  lock.ttl = std::chrono::milliseconds(400);
  lock.max_wait = std::chrono::milliseconds(3000);
  return lock;
}

std::unique_ptr<MigrationFixture::Client> MigrationFixture::connect(
    migrator::LockOptions lock) const {
  migrator::MigratorEndpoints endpoints;
  endpoints.pg_conninfo = trial_->url().conninfo();
  endpoints.redis = redis_;
  endpoints.stripe_port = stripe_->port();
  endpoints.stripe_secret_key = stripe_->secret_key();
  endpoints.litellm_port = litellm_->port();
  endpoints.litellm_master_key = litellm_->master_key();
  endpoints.lock = std::move(lock);
  return migrator::MigratorClient::connect(endpoints, io::after(std::chrono::seconds(5)));
}

const world::LegacyUser& MigrationFixture::user_with(world::EdgeCase flag) const {
  for (const auto& u : world_.users) {
    if (world::has(u.edge_cases, flag)) return u;
  }
  throw std::logic_error("no user with that edge case");
}

const world::LegacyUser& MigrationFixture::plain_user() const {
  using world::EdgeCase;
  // Small worlds may have no user without any edge case: take one whose
  // migration path is the common one.
  for (const auto& u : world_.users) {
    if (!has(u.edge_cases, EdgeCase::no_stripe_customer) &&
        !has(u.edge_cases, EdgeCase::expired_key) && !has(u.edge_cases, EdgeCase::zero_budget) &&
        !has(u.edge_cases, EdgeCase::two_keys)) {
      return u;
    }
  }
  throw std::logic_error("no user on the common migration path; use a larger world");
}

std::string metadata_value(const std::map<std::string, std::string>& metadata,
                           const std::string& key) {
  const auto it = metadata.find(key);
  return it == metadata.end() ? std::string() : it->second;
}

std::string MigrationFixture::end_state(const world::LegacyUser& user) {
  auto& pg = admin_->pg;
  const std::string& id = user.user_id;
  std::ostringstream out;
  out << "user_settings\n"
      << rows(pg,
              "SELECT user_id, username, email, llm_api_key, already_migrated FROM user_settings "
              "WHERE user_id = $1",
              {id});
  out << "org\n"
      << rows(pg,
              "SELECT id, name, kind, owner_user_id, contact_email FROM org WHERE owner_user_id = "
              "$1 ORDER BY id",
              {id});
  out << "app_user\n"
      << rows(pg,
              "SELECT id, legacy_user_id, current_org_id, email FROM app_user WHERE legacy_user_id "
              "= $1",
              {id});
  out << "org_member\n"
      << rows(pg,
              "SELECT m.org_id, m.user_id, r.name, m.llm_api_key FROM org_member m JOIN role r ON "
              "r.id = m.role_id JOIN app_user u ON u.id = m.user_id WHERE u.legacy_user_id = $1 "
              "ORDER BY 1",
              {id});
  out << "conversations\n"
      << rows(pg,
              "SELECT c.conversation_id, c.org_id FROM conversation_metadata_org c JOIN app_user u "
              "ON u.id = c.user_id WHERE u.legacy_user_id = $1 ORDER BY 1",
              {id});
  out << "stripe_customers\n"
      << rows(pg,
              "SELECT user_id, org_id, stripe_customer_id FROM stripe_customers WHERE user_id = $1 "
              "ORDER BY id",
              {id});

  out << "litellm user\n";
  if (auto u = litellm_->user(id)) {
    auto teams = u->teams;
    std::sort(teams.begin(), teams.end());
    out << json_or_null(u->max_budget) << " spend " << u->spend << " teams";
    for (const auto& t : teams) out << ' ' << t;
    out << '\n';
  }
  out << "litellm team\n";
  if (auto t = litellm_->team(id)) {
    out << t->team_alias.value_or("") << " budget " << json_or_null(t->max_budget) << " spend "
        << t->spend << " members";
    std::vector<std::string> members;
    for (const auto& m : t->members_with_roles) members.push_back(m.user_id + ":" + m.role);
    std::sort(members.begin(), members.end());
    for (const auto& m : members) out << ' ' << m;
    out << '\n';
  }
  out << "litellm keys\n";
  std::vector<std::string> keys;
  for (const auto& k : litellm_->keys()) {
    if (k.user_id != id && k.team_id != id) continue;
    keys.push_back(fmt::format("{} alias={} user={} team={} blocked={}", k.key,
                               k.key_alias.value_or(""), k.user_id.value_or(""),
                               k.team_id.value_or(""), k.blocked));
  }
  std::sort(keys.begin(), keys.end());
  for (const auto& k : keys) out << k << '\n';

  out << "stripe customers\n";
  std::vector<std::string> customers;
  std::vector<std::string> customer_ids;
  for (const auto& c : stripe_->customers()) {
    const bool original = user.stripe_customer_id && c.id == *user.stripe_customer_id;
    const bool for_org = metadata_value(c.metadata, "org_id") == id;
    if (!original && !for_org) continue;
    customer_ids.push_back(c.id);
    customers.push_back(fmt::format("{} email={} metadata={}", c.id, c.email.value_or(""),
                                    metadata_text(c.metadata)));
  }
  std::sort(customers.begin(), customers.end());
  for (const auto& c : customers) out << c << '\n';
  out << "stripe subscriptions\n";
  for (const auto& s : stripe_->subscriptions()) {
    if (std::find(customer_ids.begin(), customer_ids.end(), s.customer) == customer_ids.end())
      continue;
    out << s.id << " customer=" << s.customer << " metadata=" << metadata_text(s.metadata) << '\n';
  }
  out << "stripe invoices " << stripe_->invoices().size() << '\n';
  return out.str();
}

}  // namespace orgquake::test
