#pragma once

// Which migrators a run can put under test, and how to start one worker of
// each. A migrator is a command that speaks the worker protocol
// (docs/worker-protocol.md): the built-in C++ ones run as `orgquake worker`;
// the project's own Python migrators (migrator/python/migrators.toml) and a
// user's own are declared in TOML:
//
//   [migrators.our_migrator]
//   command = ["python3", "-m", "our_app.orgquake_worker"]
//   working_directory = "."        # relative to the file; default its folder
//   environment = { PYTHONPATH = "src" }
//   description = "our migration, as deployed"

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "worker/worker_protocol.hpp"

namespace orgquake::engine {

struct MigratorDeclaration {
  std::string name;
  /// The worker's command line; empty for a C++ migrator built into orgquake
  /// (it runs as `orgquake worker`).
  std::vector<std::string> command;
  std::filesystem::path working_directory = "/";
  std::map<std::string, std::string> environment;
  std::string description;
  std::string declared_in;  ///< "built in", or the file (for messages)

  bool built_in() const { return command.empty(); }
  /// What results.json records, so that repro starts the same command.
  nlohmann::json to_json() const;
  static MigratorDeclaration from_json(const nlohmann::json& json);
};

/// Reads the `[migrators.NAME]` tables of a TOML document, already converted
/// to JSON (`tables` is the value of the `migrators` key). Relative working
/// directories are taken from `base_dir`, and ${ORGQUAKE_ROOT} stands for the
/// source tree. Throws UsageError naming `source` and the key.
std::vector<MigratorDeclaration> read_migrator_tables(const nlohmann::json& tables,
                                                      const std::filesystem::path& base_dir,
                                                      const std::string& source);

class MigratorCatalog {
 public:
  /// The C++ migrators and the project's own Python migrators.
  static MigratorCatalog with_built_ins();
  /// Adds the declarations of a TOML file (`--migrators FILE`). Throws UsageError.
  void add_file(const std::filesystem::path& path);
  /// A later declaration of a name replaces the earlier one (a user's file
  /// may override a built-in Python migrator's command).
  void add(MigratorDeclaration declaration);
  /// Throws UsageError naming the migrators that exist.
  const MigratorDeclaration& find(std::string_view name) const;
  const std::vector<MigratorDeclaration>& all() const { return declarations_; }
  std::vector<std::string> names() const;

 private:
  std::vector<MigratorDeclaration> declarations_;
};

/// How the controller starts one worker of a migrator.
struct WorkerCommand {
  std::filesystem::path program;  ///< absolute
  std::vector<std::string> args;
  std::filesystem::path working_directory;
  std::map<std::string, std::string> environment;
};

/// Resolves the declaration's program (on PATH when it has no slash).
/// `self` is the orgquake binary, which runs built-in migrators. Throws
/// UsageError in one line when the program or directory is missing.
WorkerCommand worker_command(const MigratorDeclaration& declaration,
                             const std::filesystem::path& self);

/// A migrator with what it declared of itself.
struct MigratorUnderTest {
  MigratorDeclaration declaration;
  WorkerCommand command;
  worker::MigratorDescription description;
};

/// Starts one worker in describe mode and reads its declarations, within
/// `timeout`. Throws UsageError with one line (naming the migrator and what
/// its worker did) if it does not answer as the protocol says. Nothing is
/// left running.
MigratorUnderTest describe_migrator(const MigratorDeclaration& declaration,
                                    const std::filesystem::path& self,
                                    std::chrono::milliseconds timeout);

}  // namespace orgquake::engine
