#include "migrator/migrator.hpp"

#include <fmt/format.h>

#include "core/error.hpp"
#include "migrator/bugs/bug_catalog.hpp"
#include "migrator/dual_path.hpp"

namespace orgquake::migrator {

MigrationError::MigrationError(std::string step, const std::string& user_id,
                               const std::string& cause)
    : std::runtime_error(fmt::format("migrating user {} failed at {}: {}", user_id, step, cause)),
      step_(std::move(step)) {}

UnknownUser::UnknownUser(const std::string& user_id)
    : MigrationError("detect", user_id, "no legacy user has this id") {}

FencedOut::FencedOut(const std::string& user_id, std::int64_t token, std::int64_t newer)
    : MigrationError("commit", user_id,
                     fmt::format("fencing token {} is older than {} already committed: this "
                                 "holder's lock lease expired",
                                 token, newer)) {}

bool Migrator::backfill_user(MigratorContext& ctx, const std::string& id) {
  RedisLock lock(ctx.redis, ctx.lock, ctx.rng.derive("backfill"));
  const auto lease = lock.acquire(id, &ctx.stats.lock_waits);
  try {
    migrate_user(ctx, id, lease.fencing_token);
  } catch (...) {
    lock.release(lease);
    throw;
  }
  return lock.release(lease);
}

ServedRequest Migrator::serve_user(MigratorContext& ctx, const std::string& id,
                                   const LookupOptions& options) {
  return serve_request(*this, ctx, id, options);
}

bool Migrator::compensate_user(MigratorContext&, const std::string& id) {
  throw std::logic_error(
      fmt::format("migrator {} cannot compensate a migration (of user {})", name(), id));
}

std::vector<std::string> migrator_names() {
  std::vector<std::string> names{"reference", "seed_naive"};
  for (const auto& bug : bugs::bug_catalog())
    names.push_back(std::string(bugs::bug_prefix) + bug.name);
  return names;
}

std::unique_ptr<Migrator> make_migrator(std::string_view name) {
  if (name == "reference") return make_reference_migrator();
  if (name == "seed_naive") return make_seed_naive_migrator();
  if (name.substr(0, bugs::bug_prefix.size()) == bugs::bug_prefix) {
    if (const auto* bug = bugs::find_bug(name)) return bug->make();
    throw UsageError(fmt::format(
        "unknown catalog bug '{}'; `orgquake list` names the bugs of the catalog", name));
  }
  throw UsageError(fmt::format(
      "unknown migrator '{}'; the migrators are reference, seed_naive and bug:NAME for a bug of "
      "the catalog (`orgquake list`)",
      name));
}

}  // namespace orgquake::migrator
