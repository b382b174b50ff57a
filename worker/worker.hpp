#pragma once

#include <string>

#include "worker/worker_protocol.hpp"

namespace orgquake::worker {

/// What the C++ worker declares of itself in `ready` for a built-in migrator.
MigratorDescription describe(const std::string& migrator);

/// The body of a worker process (`orgquake worker`): one app-server replica.
/// Reads its WorkerPlan from the channel on `channel_fd`, connects one
/// MigratorClient per client fiber, reports "ready", waits for "go", runs
/// each client's operations with the selected migrator, and streams every
/// operation and failpoint firing back as history events. Firings of gated
/// failpoints wait for the controller's decision. Returns the exit code.
int run_worker(int channel_fd);

}  // namespace orgquake::worker
