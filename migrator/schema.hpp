#pragma once

#include <string>
#include <vector>

#include <pqxx/connection>

#include "core/embedded_file.hpp"

namespace orgquake {

/// The schema files under migrator/schema/, in the order they apply.
const std::vector<EmbeddedFile>& schema_files();

namespace schema {

/// One schema file as recorded in schema_version.
struct AppliedVersion {
  int version;
  std::string name;
  std::string checksum;
};

/// A hash of every schema file's name and content. It keys the cache of
/// initialized clusters, so editing a schema file invalidates the cache.
std::string content_hash();

/// Applies, in order, every schema file not yet recorded in schema_version,
/// each in its own transaction. Applying twice is a no-op. A file whose
/// content changed after it was applied is an error, never silently skipped.
/// Concurrent callers on one database serialize on an advisory lock.
/// Returns the versions this call applied.
std::vector<AppliedVersion> apply(pqxx::connection& connection);

/// What schema_version records, in version order.
std::vector<AppliedVersion> applied_versions(pqxx::connection& connection);

}  // namespace schema
}  // namespace orgquake
