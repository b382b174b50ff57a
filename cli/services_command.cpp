#include <unistd.h>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "core/interrupt.hpp"
#include "services/services.hpp"

namespace orgquake::cli {
namespace {

struct ServicesUpOptions {
  services::ServicesOptions services;
};

int services_up(const ServicesUpOptions& options) {
  auto services = services::Services::start(options.services);
  // Stdout carries the URLs as environment assignments, so another shell can
  // `export` them and run orgquake against these servers as external ones.
  fmt::print("ORGQUAKE_PG_URL={}\n", services->admin_url().full());
  fmt::print("ORGQUAKE_REDIS_URL={}\n", services->redis_url().display());
  if (auto* pg = services->embedded_postgres()) {
    fmt::print("# postgres {} (embedded, pid {}, {})\n", pg->binaries().version, pg->pid(),
               pg->timings().cache_built ? "initialized the cluster cache" : "cluster cache warm");
  }
  if (auto* redis = services->embedded_redis()) {
    fmt::print("# redis-server (embedded, pid {})\n", redis->pid());
  }
  if (services->embedded_postgres() || services->embedded_redis()) {
    fmt::print("# run directory {}\n", services->run_directory().path().string());
  }
  fmt::print("# ready in {}; Ctrl-C to stop\n", human_duration(services->startup_time()));
  std::fflush(stdout);
  const int signal = wait_for_interrupt();
  services->stop();
  fmt::print("# stopped (signal {})\n", signal);
  return 0;
}

}  // namespace

void add_services_command(CLI::App& app, Action& action) {
  auto* group = app.add_subcommand("services", "Manage the PostgreSQL and Redis servers");
  group->require_subcommand(1);
  auto options = std::make_shared<ServicesUpOptions>();
  auto* up = group->add_subcommand(
      "up", "Start embedded PostgreSQL and Redis, print their URLs, stay up until Ctrl-C");
  up->add_option("--pg-port", options->services.pg_port, "Port for the embedded PostgreSQL")
      ->check(CLI::Range(1, 65535));
  up->add_option("--redis-port", options->services.redis_port, "Port for the embedded Redis")
      ->check(CLI::Range(1, 65535));
  up->add_option("--pg-url", options->services.pg_url,
                 "Use this PostgreSQL instead of starting one (or ORGQUAKE_PG_URL)");
  up->add_option("--redis-url", options->services.redis_url,
                 "Use this Redis instead of starting one (or ORGQUAKE_REDIS_URL)");
  up->callback([options, &action] { action = [options] { return services_up(*options); }; });
}

}  // namespace orgquake::cli
