#pragma once

// The controller's hand on the application under test, as a deployment
// pipeline's: it sets the rollout flag (schema file 0004_rollout_flag.sql)
// in a trial's database while the workers' requests read it, and backs the
// database up and restores it, as the migration guide's rollback of a
// backfill does. Trial records each change in the history
// (EventType::rollout).

#include <cstdint>
#include <string>
#include <vector>

#include "services/services.hpp"

namespace orgquake::engine {

/// Sets the org path's rollout flag in the database at `url`, as version
/// `version` (the trial numbers the flag's states: a restore takes the
/// database's own counter back).
void set_rollout_flag(const services::PgUrl& url, std::int64_t version, int percentage,
                      const std::vector<std::string>& allow_list);

/// Copies database `name` to a new database `backup` (CREATE DATABASE ...
/// TEMPLATE: nobody may be connected to `name` meanwhile).
void back_up_database(const services::PgUrl& admin, const std::string& name,
                      const std::string& backup);

/// Replaces database `name` with a copy of `backup`: every session on it is
/// ended, it is dropped and created again from the backup.
void restore_database(const services::PgUrl& admin, const std::string& name,
                      const std::string& backup);

/// Drops database `name` if it exists, ending its sessions.
void drop_database(const services::PgUrl& admin, const std::string& name);

}  // namespace orgquake::engine
