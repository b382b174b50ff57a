#include "migrator/migrator.hpp"

#include <fmt/format.h>

#include "core/error.hpp"

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

std::vector<std::string> migrator_names() {
  return {"reference", "seed_naive"};
}

std::unique_ptr<Migrator> make_migrator(std::string_view name) {
  if (name == "reference") return make_reference_migrator();
  if (name == "seed_naive") return make_seed_naive_migrator();
  throw UsageError(
      fmt::format("unknown migrator '{}'; the migrators are: reference, seed_naive", name));
}

}  // namespace orgquake::migrator
