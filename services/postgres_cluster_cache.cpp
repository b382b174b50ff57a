#include "services/postgres_cluster_cache.hpp"

#include <cerrno>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <fmt/format.h>
#include <pqxx/pqxx>

#include "core/error.hpp"
#include "core/hash.hpp"
#include "migrator/schema.hpp"
#include "services/interlock.hpp"
#include "services/loopback_port.hpp"
#include "services/postgres_server.hpp"

namespace fs = std::filesystem;

namespace orgquake::services {
namespace {

// Bump when what a cached cluster contains changes in a way the schema hash
// does not capture (initdb options, the marker, the base database).
constexpr const char* kCacheFormat = "2";

void chown_to(const fs::path& path, const std::optional<Account>& owner) {
  if (owner && lchown(path.c_str(), owner->uid, owner->gid) != 0) {
    throw_errno("cannot hand " + path.string() + " to " + owner->name);
  }
}

void remove_abandoned_builds(const fs::path& root) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const std::string name = entry.path().filename().string();
    auto pos = name.find(".building-");
    if (pos == std::string::npos || owner_alive(name)) continue;
    fs::remove_all(entry.path(), ec);
  }
}

void build_cluster(const PostgresBinaries& binaries, const std::optional<Account>& run_as,
                   const RunDirectory& run, const fs::path& data) {
  run_initdb(binaries, data, run.path() / "initdb.log", run_as);
  PostgresServerOptions options;
  options.data_directory = data;
  options.socket_directory = run.make_subdirectory("cache-build-socket", 0700, run_as);
  options.log_file = run.path() / "cache-build.log";
  options.port = pick_free_loopback_port();
  options.run_as = run_as;
  PostgresServer server = PostgresServer::start(binaries, options, &run);
  {
    pqxx::connection admin(server.url("postgres").conninfo());
    write_marker(admin, "admin database of a cluster orgquake created");
    pqxx::nontransaction(admin).exec(fmt::format("CREATE DATABASE {}", kBaseDatabase));
  }
  {
    pqxx::connection base(server.url(kBaseDatabase).conninfo());
    schema::apply(base);
    write_marker(base, "schema template orgquake created");
  }
  server.shut_down_cleanly();
}

/// Copies one file of a cluster. A full filesystem does not always say so:
/// when two runs fill a tmpfs at once, copy_file_range can fail with EIO. A
/// failure on a filesystem without room for the file is called what it is.
void copy_cluster_file(const fs::path& from, const fs::path& to) {
  try {
    fs::copy_file(from, to);
  } catch (const fs::filesystem_error& e) {
    struct statvfs room {};
    std::error_code size_error;
    const auto needed = fs::file_size(from, size_error);
    if (e.code() != std::errc::no_space_on_device && !size_error &&
        statvfs(to.parent_path().c_str(), &room) == 0 &&
        static_cast<std::uintmax_t>(room.f_bavail) * room.f_frsize < needed) {
      throw fs::filesystem_error("cannot copy file", from, to,
                                 std::make_error_code(std::errc::no_space_on_device));
    }
    throw;
  }
}

}  // namespace

void copy_cluster(const fs::path& source, const fs::path& destination,
                  const std::optional<Account>& owner) {
  if (mkdir(destination.c_str(), 0700) != 0) throw_errno("cannot create " + destination.string());
  chown_to(destination, owner);
  for (auto it = fs::recursive_directory_iterator(source); it != fs::recursive_directory_iterator();
       ++it) {
    const fs::path target = destination / fs::relative(it->path(), source);
    const auto status = it->symlink_status();
    if (fs::is_directory(status)) {
      fs::create_directory(target);
      fs::permissions(target, status.permissions());
    } else if (fs::is_regular_file(status)) {
      copy_cluster_file(it->path(), target);
      fs::permissions(target, status.permissions());
    } else if (fs::is_symlink(status)) {
      fs::copy_symlink(it->path(), target);
    } else {
      continue;  // sockets, fifos: nothing a stopped cluster needs
    }
    chown_to(target, owner);
  }
}

fs::path cached_cluster(const PostgresBinaries& binaries, const std::optional<Account>& run_as,
                        const RunDirectory& run, bool* built) {
  if (built != nullptr) *built = false;
  const fs::path root = cache_root();
  ensure_private_directory(root, 0755);
  const std::string key = StableHash{}
                              .add_field(binaries.version)
                              .add_field(schema::content_hash())
                              .add_field(kCacheFormat)
                              .add_field(run_as ? run_as->name : "")
                              .hex();
  const fs::path entry = root / fmt::format("pg{}-{}", binaries.major, key);
  if (fs::exists(entry / "PG_VERSION")) return entry;

  remove_abandoned_builds(root);
  const fs::path building =
      root / fmt::format("pg{}-{}.building-{}", binaries.major, key, self_owner_tag());
  fs::remove_all(building);
  if (mkdir(building.c_str(), 0700) != 0) throw_errno("cannot create " + building.string());
  chown_to(building, run_as);
  try {
    build_cluster(binaries, run_as, run, building);
  } catch (...) {
    std::error_code ec;
    fs::remove_all(building, ec);
    throw;
  }
  if (rename(building.c_str(), entry.c_str()) != 0) {
    const int err = errno;
    std::error_code ec;
    fs::remove_all(building, ec);
    // Another harness finished the same entry first: use theirs.
    if ((err == ENOTEMPTY || err == EEXIST) && fs::exists(entry / "PG_VERSION")) return entry;
    throw EnvironmentError(
        errno_message("cannot move the new cluster into " + entry.string(), err));
  }
  if (built != nullptr) *built = true;
  return entry;
}

}  // namespace orgquake::services
