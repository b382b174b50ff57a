// orgquake repro DIR [--trial N]: replays one trial of a finished run (by
// default its first trial that was not valid) from what results.json
// recorded: the suite as it ran, the run's seed, the migrator. The replay
// gets the same trial seed, so the same fault plan and the same order of
// the controller's failpoint decisions; it says whether they matched.
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "cli/run_output.hpp"
#include "core/error.hpp"
#include "engine/controller_run.hpp"
#include "engine/recorded_run.hpp"
#include "engine/suite_spec.hpp"

namespace orgquake::cli {
namespace {

namespace fs = std::filesystem;

struct ReproOptions {
  std::string dir;
  std::optional<int> trial;
  std::optional<std::string> out;
  services::ServicesOptions services;
};

const nlohmann::json* find_trial(const nlohmann::json& results, std::optional<int> index) {
  for (const auto& trial : results.at("trials")) {
    if (index ? trial.at("index").get<int>() == *index : trial.at("verdict") != "valid") {
      return &trial;
    }
  }
  return nullptr;
}

void compare(const char* what, const nlohmann::json& before, const nlohmann::json& after) {
  if (before == after) {
    fmt::print("{}: same as the original ({} entries)\n", what, after.size());
    return;
  }
  std::size_t i = 0;
  while (i < before.size() && i < after.size() && before[i] == after[i]) ++i;
  fmt::print("{}: differs from the original at entry {}: was {}, now {}\n", what, i,
             i < before.size() ? before[i].dump() : "nothing",
             i < after.size() ? after[i].dump() : "nothing");
}

int repro(const ReproOptions& options) {
  const fs::path dir = options.dir;
  const auto results = engine::read_results_file(dir, "replay");
  const nlohmann::json* original = nullptr;
  try {
    original = find_trial(results, options.trial);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(
        fmt::format("{}: results.json lacks what a replay needs: {}", dir.string(), e.what()));
  }
  if (original == nullptr) {
    throw UsageError(
        options.trial
            ? fmt::format("{}: the run has no trial {}", dir.string(), *options.trial)
            : fmt::format("{}: every trial was valid; pick one with --trial N", dir.string()));
  }
  const auto recorded = engine::recorded_run_of(results, dir, "replay");
  engine::RunRequest request;
  request.spec = recorded.spec;
  request.seed = recorded.seed;
  request.migrator = recorded.migrator;
  try {
    request.trial = original->at("index").get<int>();
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(
        fmt::format("{}: results.json lacks what a replay needs: {}", dir.string(), e.what()));
  }
  request.out_dir =
      options.out ? fs::path(*options.out) : dir / fmt::format("repro-trial-{}", *request.trial);
  request.services = options.services;
  request.services.session_pool = recorded.session_pool;  // as the run reached its database
  fmt::print("replaying trial {} ({} seed {}) of {}\n", *request.trial,
             original->at("scenario").get<std::string>(), original->at("seed").dump(),
             dir.string());
  const auto run = engine::run_suite(request);
  const int code = finish_run(run, request.out_dir);
  if (!run.trials.empty()) {
    const auto& replayed = run.trials.front();
    compare("fault plan", original->value("fault_plan", nlohmann::json::array()),
            replayed.fault_plan);
    compare("choices", original->value("choices", nlohmann::json::array()), replayed.choices);
    compare("failpoint order", original->value("failpoint_order", nlohmann::json::array()),
            nlohmann::json(replayed.failpoint_order));
    fmt::print("original verdict {}, replay {}\n", original->at("verdict").get<std::string>(),
               results::name_of(replayed.verdict));
  }
  return code;
}

}  // namespace

void add_repro_command(CLI::App& app, Action& action) {
  auto options = std::make_shared<ReproOptions>();
  auto* cmd = app.add_subcommand("repro", "Replay the failing trial of a run directory");
  cmd->add_option("dir", options->dir, "A run's --out directory (holds results.json)")->required();
  cmd->add_option("--trial", options->trial, "Replay this trial instead of the first failing one")
      ->check(CLI::Range(0, 1000000));
  cmd->add_option("--out", options->out, "Where the replay's files go (default DIR/repro-trial-N)");
  cmd->add_option("--pg-url", options->services.pg_url,
                  "Use this PostgreSQL instead of starting one (or ORGQUAKE_PG_URL)");
  cmd->add_option("--redis-url", options->services.redis_url,
                  "Use this Redis instead of starting one (or ORGQUAKE_REDIS_URL)");
  cmd->callback([options, &action] { action = [options] { return repro(*options); }; });
}

}  // namespace orgquake::cli
