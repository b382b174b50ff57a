#include "engine/recorded_run.hpp"

#include <fstream>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::engine {

nlohmann::json read_results_file(const std::filesystem::path& dir, std::string_view purpose) {
  const auto path = dir / "results.json";
  std::ifstream in(path);
  if (!in) throw UsageError(fmt::format("{}: no results.json to {} from", dir.string(), purpose));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(fmt::format("{}: not a results file: {}", path.string(), e.what()));
  }
}

RecordedRun recorded_run_of(nlohmann::json results, const std::filesystem::path& dir,
                            std::string_view purpose) {
  RecordedRun run;
  run.dir = dir;
  run.results = std::move(results);
  try {
    run.spec = SuiteSpec::from_json(run.results.at("spec"));
    run.seed = run.results.at("seed").get<std::uint64_t>();
    run.migrator =
        run.results.contains("migrator_declaration")
            ? MigratorDeclaration::from_json(run.results.at("migrator_declaration"))
            : MigratorCatalog::with_built_ins().find(run.results.at("migrator").get<std::string>());
    run.session_pool = run.results.value("session_pool", true);
  } catch (const nlohmann::json::exception& e) {
    throw UsageError(
        fmt::format("{}: results.json lacks what a {} needs: {}", dir.string(), purpose, e.what()));
  }
  return run;
}

}  // namespace orgquake::engine
