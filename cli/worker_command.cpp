// orgquake worker: the hidden subcommand the controller starts for each
// worker process, with its channel on fd 3. Not for people.
#include "cli/commands.hpp"
#include "worker/worker.hpp"

namespace orgquake::cli {

void add_worker_command(CLI::App& app, Action& action) {
  auto* worker = app.add_subcommand("worker", "A worker process of a run (started by orgquake)");
  worker->group("");  // hidden from --help
  worker->callback([&action] { action = [] { return worker::run_worker(3); }; });
}

}  // namespace orgquake::cli
