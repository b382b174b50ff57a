#pragma once

#include <pqxx/connection>

#include "world/world.hpp"

namespace orgquake::world {

/// Inserts the world's legacy rows (user_settings, stripe_customers,
/// conversation_metadata) into a database that has the schema and no users
/// yet, in one transaction. Row ids and timestamps come from the world, so
/// equal worlds give equal database digests.
void load_into_database(pqxx::connection& connection, const World& world);

}  // namespace orgquake::world
