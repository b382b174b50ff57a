// orgquake: verification and chaos testing for user-to-organization migrations.
#include <cstdio>
#include <filesystem>

#include <fmt/format.h>
#include <pqxx/except>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/interrupt.hpp"
#include "core/one_line.hpp"

namespace {

int fail(const std::string& message) {
  fmt::print(stderr, "orgquake: {}\n", orgquake::one_line(message));
  return static_cast<int>(orgquake::ExitCode::harness_error);
}

}  // namespace

int main(int argc, char** argv) {
  orgquake::install_interrupt_handlers();
  CLI::App app{"orgquake: verification and chaos testing for user-to-organization migrations"};
  app.name("orgquake");
  app.require_subcommand(1);
  app.set_version_flag("--version", ORGQUAKE_VERSION);
  orgquake::cli::Action action;
  orgquake::cli::add_run_command(app, action);
  orgquake::cli::add_services_command(app, action);
  orgquake::cli::add_fake_command(app, action);
  orgquake::cli::add_bench_command(app, action);
  orgquake::cli::add_list_command(app, action);
  orgquake::cli::add_repro_command(app, action);
  orgquake::cli::add_mutation_score_command(app, action);
  orgquake::cli::add_shrink_command(app, action);
  orgquake::cli::add_merge_command(app, action);
  orgquake::cli::add_worker_command(app, action);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return fail(fmt::format("{}; see 'orgquake --help'", e.what()));
  }
  try {
    return action();
  } catch (const orgquake::Interrupted& e) {
    return fail(fmt::format("{}; everything it started is stopped", e.what()));
  } catch (const orgquake::UsageError& e) {
    return fail(e.what());
  } catch (const orgquake::EnvironmentError& e) {
    return fail(e.what());
  } catch (const std::filesystem::filesystem_error& e) {
    std::string message = e.what();
    if (message.rfind("filesystem error: ", 0) == 0) message.erase(0, 18);
    if (e.code() == std::errc::no_space_on_device) {
      message += "; free some space, or point ORGQUAKE_RUNTIME_DIR / ORGQUAKE_CACHE_DIR elsewhere";
    }
    return fail(message);
  } catch (const pqxx::failure& e) {
    return fail(fmt::format("database error: {}", e.what()));
  } catch (const std::exception& e) {
    return fail(fmt::format("internal error: {}", e.what()));
  }
}
