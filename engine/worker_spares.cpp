#include "engine/worker_spares.hpp"

#include <csignal>
#include <system_error>
#include <unistd.h>

#include <fmt/format.h>

#include "engine/migrator_catalog.hpp"
#include "worker/worker_protocol.hpp"

namespace orgquake::engine {

WorkerProcess WorkerProcess::start(const WorkerCommand& command, const std::filesystem::path& log) {
  auto [mine, theirs] = worker::Channel::socket_pair();
  auto channel = std::make_unique<worker::Channel>(mine);
  services::ChildSpec spec;
  spec.program = command.program;
  spec.args = command.args;
  spec.working_directory = command.working_directory;
  spec.environment = command.environment;
  spec.environment[worker::channel_fd_variable] = "3";
  spec.environment["ORGQUAKE_PROTOCOL"] = std::to_string(worker::protocol_version);
  spec.log_file = log;
  spec.channel_fd = theirs;
  try {
    WorkerProcess started{services::ChildProcess::spawn(spec), std::move(channel), log};
    ::close(theirs);
    return started;
  } catch (...) {
    ::close(theirs);
    throw;
  }
}

WorkerSpares::WorkerSpares(const WorkerCommand& command, std::filesystem::path log_dir)
    : command_(command), log_dir_(std::move(log_dir)) {}

WorkerSpares::~WorkerSpares() {
  for (auto& spare : spares_) {
    spare.process.stop(SIGKILL, std::chrono::milliseconds(1000));
    std::error_code ignored;
    std::filesystem::remove(spare.log, ignored);
  }
}

WorkerProcess WorkerSpares::take(const std::filesystem::path& log) {
  if (spares_.empty()) return WorkerProcess::start(command_, log);
  WorkerProcess spare = std::move(spares_.front());
  spares_.pop_front();
  // The log takes the worker's name; the process keeps writing to it.
  std::error_code renamed;
  std::filesystem::rename(spare.log, log, renamed);
  if (!renamed) spare.log = log;
  return spare;
}

void WorkerSpares::keep(int count) {
  kept_ = std::max(kept_, count);
  refill();
}

void WorkerSpares::refill() {
  while (static_cast<int>(spares_.size()) < kept_) {
    // Named after this controller: the lanes of a run share its log directory.
    spares_.push_back(WorkerProcess::start(
        command_, log_dir_ / fmt::format("spare-{}-{}.log", ::getpid(), started_++)));
  }
}

}  // namespace orgquake::engine
