#include "migrator/rollout.hpp"

#include <algorithm>

#include <nlohmann/json.hpp>

#include "core/hash.hpp"

namespace orgquake::migrator {

int rollout_bucket(std::string_view legacy_user_id) {
  StableHash hash;
  hash.add(org_path_flag).add(":").add(legacy_user_id);
  return static_cast<int>(hash.value() % 100);
}

bool in_rollout(const RolloutFlag& flag, std::string_view legacy_user_id) {
  if (std::find(flag.allow_list.begin(), flag.allow_list.end(), legacy_user_id) !=
      flag.allow_list.end()) {
    return true;
  }
  return rollout_bucket(legacy_user_id) < flag.percentage;
}

RolloutFlag read_rollout_flag(io::PgConnection& pg) {
  // The allow list as JSON: its text form needs no array parser.
  const auto r = pg.exec(
      "SELECT percentage, version, to_json(allow_list)::text FROM rollout_flag WHERE name = $1",
      {std::string(org_path_flag)});
  if (r.empty()) throw io::PgError("P0002", "rollout_flag has no row named org_path");
  RolloutFlag flag;
  flag.percentage = static_cast<int>(r.integer(0, 0));
  flag.version = r.integer(0, 1);
  flag.allow_list = nlohmann::json::parse(r.text(0, 2)).get<std::vector<std::string>>();
  return flag;
}

}  // namespace orgquake::migrator
