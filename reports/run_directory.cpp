#include "reports/run_directory.hpp"

#include <fstream>
#include <map>

#include <fmt/format.h>

#include "core/error.hpp"
#include "results/run_result_json.hpp"

namespace orgquake::reports {

results::RunResult read_run_directory(const std::filesystem::path& dir) {
  const auto results_path = dir / "results.json";
  std::ifstream results_file(results_path);
  if (!results_file) throw UsageError(fmt::format("{}: no results.json here", dir.string()));
  results::RunResult run;
  try {
    run = results::run_from_json(nlohmann::json::parse(results_file));
  } catch (const std::exception& e) {
    throw UsageError(fmt::format("{}: not a results file: {}", results_path.string(), e.what()));
  }

  std::map<int, results::TrialResult*> by_index;
  for (auto& trial : run.trials) by_index[trial.index] = &trial;
  const auto history_path = dir / "history.jsonl";
  std::ifstream history_file(history_path);
  if (!history_file) throw UsageError(fmt::format("{}: no history.jsonl here", dir.string()));
  std::string line;
  for (int number = 1; std::getline(history_file, line); ++number) {
    if (line.empty()) continue;
    try {
      auto json = nlohmann::json::parse(line);
      const int index = json.at("trial").get<int>();
      const auto trial = by_index.find(index);
      if (trial == by_index.end()) {
        throw UsageError(fmt::format("{} line {}: trial {} is not in results.json",
                                     history_path.string(), number, index));
      }
      json.erase("trial");
      json.erase("scenario");
      trial->second->history.add(history::Event::from_json(json));
    } catch (const UsageError&) {
      throw;
    } catch (const std::exception& e) {
      throw UsageError(fmt::format("{} line {}: {}", history_path.string(), number, e.what()));
    }
  }
  return run;
}

}  // namespace orgquake::reports
