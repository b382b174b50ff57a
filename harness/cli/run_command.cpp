#include <algorithm>
#include <charconv>
#include <chrono>
#include <random>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "harness/cli/commands.hpp"
#include "harness/core/error.hpp"
#include "harness/core/interrupt.hpp"
#include "harness/db/trial_database.hpp"
#include "harness/services/interlock.hpp"
#include "harness/services/services.hpp"
#include "harness/world/world.hpp"

namespace orgquake::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct RunOptions {
  std::optional<std::string> seed;  ///< digits; parsed by parse_seed()
  int trials = 3;
  int users = 1000;
  services::ServicesOptions services;
};

std::chrono::microseconds since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t);
}

std::string describe_world(const world::World& w) {
  std::size_t conversations = 0, customers = 0, subscriptions = 0, keys = 0;
  for (const auto& u : w.users) {
    conversations += u.conversations.size();
    customers += u.stripe_customer_id ? 1 : 0;
    subscriptions += u.stripe_subscription_id ? 1 : 0;
    keys += u.keys.size();
  }
  std::string edges;
  for (const auto& info : world::all_edge_cases()) {
    edges += fmt::format("{}{} {}", edges.empty() ? "" : ", ", info.name, w.count(info.flag));
  }
  return fmt::format(
      "{} users, {} conversations, {} Stripe customers, {} subscriptions, {} LiteLLM keys; "
      "edge cases: {}",
      w.users.size(), conversations, customers, subscriptions, keys, edges);
}

// A trial database must be a faithful copy: the marker (the interlock accepts
// it) and every world user present.
void verify_clone(const db::TrialDatabase& trial, std::size_t users) {
  pqxx::connection connection(trial.url().conninfo());
  services::require_marker(connection, trial.url());
  const auto count = pqxx::nontransaction(connection)
                         .exec("SELECT count(*) FROM user_settings")[0][0]
                         .as<std::size_t>();
  if (count != users) {
    throw EnvironmentError(
        fmt::format("trial database {} has {} users, the template {}", trial.name(), count, users));
  }
}

int run(const RunOptions& options) {
  const std::uint64_t seed = options.seed
                                 ? parse_seed(*options.seed)
                                 : std::random_device{}() * 0x100000000ULL + std::random_device{}();
  // Services first: they validate every URL, and bad input must print nothing but its error.
  auto services = services::Services::start(options.services);
  fmt::print("orgquake run: seed {}, {} users, {} trials\n", seed, options.users, options.trials);
  if (auto* pg = services->embedded_postgres()) {
    const auto& t = pg->timings();
    fmt::print("services   postgres embedded at {} ({}; copy {}, start {})\n",
               services->admin_url().display(),
               t.cache_built ? "built cluster cache in " + human_duration(t.cache_lookup)
                             : std::string("cluster cache warm"),
               human_duration(t.copy), human_duration(t.start));
  } else {
    fmt::print("services   postgres external at {}\n", services->admin_url().display());
  }
  fmt::print("           redis {} at {}; both ready in {}\n",
             services->embedded_redis() ? "embedded" : "external", services->redis_url().display(),
             human_duration(services->startup_time()));

  auto t = Clock::now();
  const world::World world = world::generate({seed, options.users});
  fmt::print("world      {}\n           digest {}, generated in {}\n", describe_world(world),
             world.digest(), human_duration(since(t)));
  throw_if_interrupted();

  auto tpl = db::TemplateDatabase::create(*services, world);
  fmt::print("template   {} built in {}\n", tpl.name(), human_duration(tpl.build_time()));

  std::vector<std::chrono::microseconds> clone_times;
  for (int i = 0; i < options.trials; ++i) {
    throw_if_interrupted();
    t = Clock::now();
    db::TrialDatabase trial = tpl.clone();
    clone_times.push_back(since(t));
    verify_clone(trial, world.users.size());
    trial.drop();
  }
  std::sort(clone_times.begin(), clone_times.end());
  fmt::print(
      "trials     {} isolated clones, each verified and dropped: median {} (min {}, max {})\n",
      clone_times.size(), human_duration(clone_times[clone_times.size() / 2]),
      human_duration(clone_times.front()), human_duration(clone_times.back()));
  fmt::print("note       no scenarios ran: the chaos engine is not built yet\n");
  return 0;
}

}  // namespace

void add_run_command(CLI::App& app, Action& action) {
  auto options = std::make_shared<RunOptions>();
  auto* run_cmd = app.add_subcommand("run", "Build the fixture world and run trials against it");
  run_cmd->add_option("--seed", options->seed,
                      "Seed of every random choice (default: random, printed)");
  run_cmd->add_option("--trials", options->trials, "Number of trials")
      ->check(CLI::Range(1, 100000));
  run_cmd->add_option("--users", options->users, "Legacy users in the fixture world")
      ->check(CLI::Range(1, 1000000));
  run_cmd->add_option("--pg-url", options->services.pg_url,
                      "Use this PostgreSQL instead of starting one (or ORGQUAKE_PG_URL)");
  run_cmd->add_option("--redis-url", options->services.redis_url,
                      "Use this Redis instead of starting one (or ORGQUAKE_REDIS_URL)");
  run_cmd->callback([options, &action] { action = [options] { return run(*options); }; });
}

std::uint64_t parse_seed(const std::string& text) {
  // Parsed here rather than by CLI11, which wraps "-3" around to 2^64 - 3 and
  // saturates numbers that are too large.
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
    throw UsageError(
        fmt::format("--seed: '{}' is not a whole number from 0 to 18446744073709551615", text));
  }
  return value;
}

std::string human_duration(std::chrono::microseconds duration) {
  if (duration < std::chrono::seconds(1)) {
    return fmt::format("{:.1f} ms", static_cast<double>(duration.count()) / 1e3);
  }
  return fmt::format("{:.2f} s", static_cast<double>(duration.count()) / 1e6);
}

}  // namespace orgquake::cli
