#pragma once

#include <filesystem>
#include <optional>

#include "services/child_process.hpp"
#include "services/postgres_binaries.hpp"
#include "services/run_directory.hpp"

namespace orgquake::services {

/// The database in a cached cluster that holds the applied schema and the
/// marker: trial templates are cloned from it.
inline constexpr const char* kBaseDatabase = "orgquake_base";

/// Returns a cleanly shut-down cluster for these binaries and the current
/// schema, building it on first use: initdb, the schema applied to
/// orgquake_base, both databases marked as orgquake's. Cached under
/// cache_root()/pg<major>-<key>, keyed by server version and schema hash, so
/// that initdb (the slow part of a cold start) runs once per machine. Built
/// under a temporary name and renamed into place, so concurrent harnesses and
/// killed builds never leave a half-built cache entry.
std::filesystem::path cached_cluster(const PostgresBinaries& binaries,
                                     const std::optional<Account>& run_as, const RunDirectory& run,
                                     bool* built = nullptr);

/// Copies a cluster directory tree to `destination`, owned by `owner`.
void copy_cluster(const std::filesystem::path& source, const std::filesystem::path& destination,
                  const std::optional<Account>& owner);

}  // namespace orgquake::services
