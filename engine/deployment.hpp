#pragma once

// The controller's hand on the application under test, as a deployment
// pipeline's: it sets the rollout flag (schema file 0004_rollout_flag.sql)
// in a trial's database while the workers' requests read it. Trial records
// each change in the history (EventType::rollout).

#include <cstdint>
#include <string>
#include <vector>

#include "services/services.hpp"

namespace orgquake::engine {

/// Sets the org path's rollout flag in the database at `url` and returns
/// the flag's new version (one more than before).
std::int64_t set_rollout_flag(const services::PgUrl& url, int percentage,
                              const std::vector<std::string>& allow_list);

}  // namespace orgquake::engine
