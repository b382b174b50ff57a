#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "migrator/io/pg_connection.hpp"
#include "migrator/model.hpp"

namespace orgquake::migrator {

/// How a lookup loads the user's relationships.
enum class LoadStrategy {
  joined,      ///< one query with JOINs
  selectin,    ///< one query per relationship, with IN lists
  n_plus_one,  ///< one query per related row: the baseline eager loading fights
};

std::string_view name_of(LoadStrategy strategy);
/// Throws UsageError naming the strategies that exist.
LoadStrategy parse_load_strategy(std::string_view name);

/// Loads a migrated user, or nullopt if there is no app_user for the legacy
/// id. Every strategy returns an equal object. `queries`, if given, is
/// increased by the number of statements sent.
std::optional<LoadedUser> load_user(io::PgConnection& pg, const std::string& legacy_user_id,
                                    LoadStrategy strategy, int* queries = nullptr);

/// The one statement joined loading sends ($1: the legacy user id), for
/// measuring what the database itself spends on it (`orgquake bench`).
std::string joined_lookup_statement();

/// The legacy read path: what the old endpoints return for a user, migrated or not.
std::optional<LegacySettings> load_legacy_settings(io::PgConnection& pg,
                                                   const std::string& legacy_user_id);

}  // namespace orgquake::migrator
