#pragma once

#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "core/random.hpp"
#include "migrator/io/pg_connection.hpp"
#include "migrator/io/redis_client.hpp"
#include "migrator/litellm_client.hpp"
#include "migrator/loading.hpp"
#include "migrator/model.hpp"
#include "migrator/redis_lock.hpp"
#include "migrator/stripe_client.hpp"

namespace orgquake::migrator {

/// What one client (one fiber) counts while it works, for the run's stats.
struct ClientStats {
  int lock_waits = 0;  ///< lock attempts that found the lock held
  int migrations = 0;  ///< migrate_user calls that committed a migration
  int queries = 0;     ///< statements sent by lookups' loading
};

/// Everything migrator code uses, owned by the caller (a worker's client
/// fiber): its own connections, and its own stream of randomness.
struct MigratorContext {
  io::PgConnection& pg;
  io::RedisClient& redis;
  StripeClient& stripe;
  LiteLlmClient& litellm;
  Rng rng;
  LockOptions lock;
  ClientStats stats;
};

struct LookupOptions {
  LoadStrategy strategy = LoadStrategy::joined;
  /// Read without the lock first and lock only for a user not migrated yet.
  bool fast_path = true;
};

/// A migration step failed; `step` names it (e.g. "litellm.team_new"). The
/// database holds nothing of the attempt beyond its journal, and a retry
/// converges.
struct ServedRequest;

class MigrationError : public std::runtime_error {
 public:
  MigrationError(std::string step, const std::string& user_id, const std::string& cause);
  const std::string& step() const { return step_; }

 private:
  std::string step_;
};

/// The user id names no legacy user.
class UnknownUser : public MigrationError {
 public:
  explicit UnknownUser(const std::string& user_id);
};

/// A commit carried a fencing token older than one already committed: the
/// lease had expired and another holder migrated the user meanwhile.
class FencedOut : public MigrationError {
 public:
  FencedOut(const std::string& user_id, std::int64_t token, std::int64_t newer);
};

/// A migrator variant: the system under test, selected by name.
class Migrator {
 public:
  virtual ~Migrator() = default;
  virtual std::string_view name() const = 0;

  /// Migrates one legacy user (detect, transform, persist). `fencing_token`
  /// is the caller's lock lease's token (0: the caller holds no lock).
  virtual void migrate_user(MigratorContext& ctx, const std::string& legacy_user_id,
                            std::int64_t fencing_token) = 0;

  /// Lock, load, verify: the lookup every request makes.
  virtual LoadedUser get_user_verified(MigratorContext& ctx, const std::string& legacy_user_id,
                                       const LookupOptions& options) = 0;

  /// The batch path (a backfill job): lock, migrate, release. True if the
  /// lease was still ours when released.
  virtual bool backfill_user(MigratorContext& ctx, const std::string& legacy_user_id);

  /// A request of the application under rollout (migrator/dual_path.hpp):
  /// the rollout flag picks the legacy path or the org path (this
  /// migrator's get_user_verified), and the other path's answers are
  /// compared where reading them changes nothing.
  virtual ServedRequest serve_user(MigratorContext& ctx, const std::string& legacy_user_id,
                                   const LookupOptions& options);

  /// Whether this migrator can undo a migration's external half
  /// (compensate_user): what restoring the database from a backup taken
  /// before a backfill cannot undo.
  virtual bool compensates() const { return false; }
  /// After the database was restored to before the user's migration:
  /// puts LiteLLM and Stripe back as the legacy rows expect them (the
  /// user's credits, keys, billing metadata) and removes what the migration
  /// made there. True if anything was undone. Only when compensates().
  virtual bool compensate_user(MigratorContext& ctx, const std::string& legacy_user_id);
};

/// The names of every variant, the default ("reference") first.
std::vector<std::string> migrator_names();

/// Throws UsageError naming the variants that exist.
std::unique_ptr<Migrator> make_migrator(std::string_view name);

std::unique_ptr<Migrator> make_reference_migrator();
std::unique_ptr<Migrator> make_seed_naive_migrator();

}  // namespace orgquake::migrator
