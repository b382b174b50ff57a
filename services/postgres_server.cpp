#include "services/postgres_server.hpp"

#include <chrono>
#include <signal.h>
#include <sys/wait.h>
#include <thread>

#include <fmt/format.h>
#include <libpq-fe.h>

#include "core/interrupt.hpp"
#include "services/server_log.hpp"

namespace orgquake::services {
namespace {

constexpr auto kPostgresStartTimeout = std::chrono::seconds(60);

}  // namespace

void run_initdb(const PostgresBinaries& binaries, const std::filesystem::path& data_directory,
                const std::filesystem::path& log_file, const std::optional<Account>& run_as) {
  ChildProcess initdb = ChildProcess::spawn(
      {binaries.initdb(),
       {"-D", data_directory.string(), "-U", kSuperuser, "--auth=trust", "--encoding=UTF8",
        "--locale=C", "--no-sync", "--no-instructions",
        // 1 MB WAL segments instead of 16: the copy per run is a third the size.
        "--wal-segsize=1"},
       log_file,
       run_as,
       "/",
       -1,
       {}});
  while (initdb.running()) {
    if (pending_interrupt() != 0) initdb.stop(SIGKILL, std::chrono::milliseconds(0));
    throw_if_interrupted();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  const int status = *initdb.wait_status();
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    throw EnvironmentError(fmt::format("initdb {} ({}): {}", initdb.describe_exit(),
                                       log_file.string(), explain_from_log(log_file)));
  }
}

PostgresServer PostgresServer::start(const PostgresBinaries& binaries,
                                     const PostgresServerOptions& options,
                                     const RunDirectory* record_in) {
  std::vector<std::string> args{
      "-D",
      options.data_directory.string(),
      "-p",
      std::to_string(options.port),
      "-k",
      options.socket_directory.string(),
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      fmt::format("max_connections={}", options.max_connections),
      // The data is thrown away after the run: durability buys nothing.
      "-c",
      "fsync=off",
      "-c",
      "synchronous_commit=off",
      "-c",
      "full_page_writes=off",
      "-c",
      "wal_level=minimal",
      "-c",
      "max_wal_senders=0",
      "-c",
      "shared_buffers=128MB",
      // Trials are short-lived clones; autovacuum would only add noise to timings.
      "-c",
      "autovacuum=off",
      "-c",
      "logging_collector=off",
      "-c",
      "log_min_messages=warning",
      "-c",
      "log_line_prefix=%m [%p] ",
      "-c",
      "huge_pages=off",
      // Dynamic shared memory as files in the data directory, not segments
      // under /dev/shm: a server killed with its run (a lane that died, an
      // immediate stop) cannot remove its segments, but its data directory
      // goes with the run directory.
      "-c",
      "dynamic_shared_memory_type=mmap",
  };
  ChildProcess process = ChildProcess::spawn(
      {binaries.postgres(), args, options.log_file, options.run_as, "/", -1, {}});
  if (record_in != nullptr) record_in->record_child(process.pid());

  const std::string conninfo = fmt::format(
      "host=127.0.0.1 port={} user={} dbname=postgres connect_timeout=5", options.port, kSuperuser);
  const auto deadline = std::chrono::steady_clock::now() + kPostgresStartTimeout;
  for (;;) {
    if (PQping(conninfo.c_str()) == PQPING_OK) break;
    if (!process.running()) {
      if (log_says_address_in_use(options.log_file)) {
        throw PortInUse(options.port);
      }
      throw EnvironmentError(fmt::format("postgres {} during start-up ({}): {}",
                                         process.describe_exit(), options.log_file.string(),
                                         explain_from_log(options.log_file)));
    }
    if (pending_interrupt() != 0) process.stop(SIGQUIT, std::chrono::seconds(5));
    throw_if_interrupted();
    if (std::chrono::steady_clock::now() > deadline) {
      process.stop(SIGQUIT, std::chrono::seconds(5));
      throw EnvironmentError(fmt::format("postgres did not accept connections within {} s ({})",
                                         kPostgresStartTimeout.count(), options.log_file.string()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return PostgresServer(std::move(process), options.port, options.log_file);
}

PgUrl PostgresServer::url(const std::string& database) const {
  return PgUrl::loopback(port_, kSuperuser, database);
}

void PostgresServer::shut_down_cleanly() {
  process_.stop(SIGINT, std::chrono::seconds(60));
  const auto status = process_.wait_status();
  if (!status || !WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
    throw EnvironmentError(fmt::format("postgres did not shut down cleanly ({}): {}",
                                       process_.describe_exit(), log_.string()));
  }
}

void PostgresServer::stop() {
  process_.stop(SIGQUIT, std::chrono::seconds(10));
}

}  // namespace orgquake::services
