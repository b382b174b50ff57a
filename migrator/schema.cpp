#include "migrator/schema.hpp"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "core/error.hpp"
#include "core/hash.hpp"

namespace orgquake::schema {
namespace {

// Any constant works; it only has to be the same for every orgquake process.
constexpr long long kSchemaAdvisoryLock = 0x6f7271756b65;  // "orqke"

struct SchemaFile {
  int version;
  const EmbeddedFile* file;
};

std::vector<SchemaFile> ordered_files() {
  std::vector<SchemaFile> files;
  for (const auto& file : schema_files()) {
    int version = 0;
    auto [end, ec] =
        std::from_chars(file.name.data(), file.name.data() + file.name.size(), version);
    if (ec != std::errc{} || end == file.name.data() || *end != '_') {
      throw std::logic_error(
          fmt::format("schema file '{}' must be named NNNN_description.sql", file.name));
    }
    files.push_back({version, &file});
  }
  std::sort(files.begin(), files.end(),
            [](const SchemaFile& a, const SchemaFile& b) { return a.version < b.version; });
  for (std::size_t i = 1; i < files.size(); ++i) {
    if (files[i].version == files[i - 1].version) {
      throw std::logic_error(fmt::format("schema files '{}' and '{}' share version {}",
                                         files[i - 1].file->name, files[i].file->name,
                                         files[i].version));
    }
  }
  return files;
}

std::string checksum(const EmbeddedFile& file) {
  return StableHash{}.add(file.content).hex();
}

}  // namespace

std::string content_hash() {
  StableHash hash;
  for (const auto& file : schema_files()) hash.add_field(file.name).add_field(file.content);
  return hash.hex();
}

std::vector<AppliedVersion> applied_versions(pqxx::connection& connection) {
  pqxx::nontransaction tx(connection);
  std::vector<AppliedVersion> versions;
  if (tx.exec("SELECT to_regclass('public.schema_version') IS NOT NULL")[0][0].as<bool>()) {
    for (const auto& row : tx.exec("SELECT version, name, checksum FROM schema_version "
                                   "ORDER BY version")) {
      versions.push_back({row[0].as<int>(), row[1].as<std::string>(), row[2].as<std::string>()});
    }
  }
  return versions;
}

std::vector<AppliedVersion> apply(pqxx::connection& connection) {
  std::vector<AppliedVersion> newly_applied;
  {
    pqxx::work tx(connection);
    tx.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kSchemaAdvisoryLock));
    tx.exec(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version integer PRIMARY KEY,"
        " name text NOT NULL,"
        " checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())");
    tx.commit();
  }
  for (const auto& [version, file] : ordered_files()) {
    const std::string sum = checksum(*file);
    pqxx::work tx(connection);
    // Held to the end of this file's transaction: a concurrent applier waits,
    // then sees the row this one recorded.
    tx.exec(fmt::format("SELECT pg_advisory_xact_lock({})", kSchemaAdvisoryLock));
    auto recorded =
        tx.exec_params("SELECT name, checksum FROM schema_version WHERE version = $1", version);
    if (!recorded.empty()) {
      const auto recorded_sum = recorded[0][1].as<std::string>();
      if (recorded_sum != sum) {
        throw EnvironmentError(fmt::format(
            "schema version {} ('{}') was applied with checksum {} but the file now has {}: "
            "schema files must not change once applied; add a new numbered file instead",
            version, recorded[0][0].as<std::string>(), recorded_sum, sum));
      }
      continue;
    }
    tx.exec(std::string(file->content));
    tx.exec_params("INSERT INTO schema_version (version, name, checksum) VALUES ($1, $2, $3)",
                   version, std::string(file->name), sum);
    tx.commit();
    newly_applied.push_back({version, std::string(file->name), sum});
  }
  return newly_applied;
}

}  // namespace orgquake::schema
