// orgquake merge DIR... [--out DIR]: joins the directories of a run's shards
// (`orgquake run --shard K/N`, run on N machines) into the one run directory
// a single machine would have written: results.json, junit.xml,
// history.jsonl and report.html with every trial in index order, and the
// shards' logs. Each trial's replay command then points at the merged
// directory, which `orgquake repro` replays like any run's.
#include <filesystem>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "cli/run_output.hpp"
#include "core/error.hpp"
#include "reports/run_directory.hpp"
#include "results/shard_merge.hpp"

namespace orgquake::cli {
namespace {

namespace fs = std::filesystem;

struct MergeOptions {
  std::vector<std::string> dirs;
  std::optional<std::string> out;
};

// A shard's logs, under the merged logs/: a trial's logs keep their names
// (trial indexes are disjoint across shards); the rest (a lane's log) are
// named after their shard so that two shards' lane-1.log both survive.
void copy_logs(const fs::path& shard_dir, int shard_number, const fs::path& out_logs) {
  const auto logs = shard_dir / "logs";
  if (!fs::is_directory(logs)) return;
  fs::create_directories(out_logs);
  for (const auto& entry : fs::directory_iterator(logs)) {
    if (!entry.is_regular_file()) continue;
    const auto name = entry.path().filename().string();
    const auto target =
        name.starts_with("trial-") ? name : fmt::format("shard-{}-{}", shard_number, name);
    fs::copy_file(entry.path(), out_logs / target, fs::copy_options::overwrite_existing);
  }
}

int merge(const MergeOptions& options) {
  std::vector<results::ShardRun> shards;
  for (const auto& dir : options.dirs) {
    shards.push_back({dir, reports::read_run_directory(dir)});
  }
  std::vector<std::pair<fs::path, int>> log_sources;
  for (const auto& shard : shards) {
    log_sources.emplace_back(shard.source, shard.run.shard ? shard.run.shard->index : 0);
  }
  auto run = results::merge_shards(std::move(shards));
  const fs::path out = options.out.value_or(default_out_dir(run.suite + "-merged", run.seed));
  for (const auto& [dir, number] : log_sources) {
    if (fs::weakly_canonical(dir) == fs::weakly_canonical(out)) {
      throw UsageError(
          fmt::format("--out {}: is one of the shards; merge into a new directory", out.string()));
    }
  }
  run.out_dir = out.string();
  for (auto& trial : run.trials) {
    trial.repro_command = fmt::format("orgquake repro {} --trial {}", out.string(), trial.index);
  }
  fmt::print("merged {} shards of suite {} (seed {}): {} trials\n", log_sources.size(), run.suite,
             run.seed, run.trials.size());
  for (const auto& [dir, number] : log_sources) copy_logs(dir, number, out / "logs");
  return finish_run(run, out);
}

}  // namespace

void add_merge_command(CLI::App& app, Action& action) {
  auto options = std::make_shared<MergeOptions>();
  auto* merge_cmd = app.add_subcommand(
      "merge", "Join the directories of a run's shards (run --shard K/N) into one run directory");
  merge_cmd->add_option("dirs", options->dirs, "The shards' run directories, all N of them")
      ->required()
      ->check(CLI::ExistingDirectory);
  merge_cmd->add_option("--out", options->out,
                        "Where to write the merged run (default reports/out/<time>-<suite>-merged-"
                        "<seed>)");
  merge_cmd->callback([options, &action] { action = [options] { return merge(*options); }; });
}

}  // namespace orgquake::cli
