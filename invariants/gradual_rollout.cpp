// The guide's second principle, gradual: a user outside the rollout is
// neither served by the org path nor migrated. Every request (op `serve`)
// says which path it took and which version of the flag it read; the
// controller recorded what each version said. At the end, every migrated
// user must have met an operation that could migrate them: a request the
// flag sent down the org path, a lookup or backfill (they migrate by
// design), a request whose outcome is unknown, or a legacy-path request
// that finished a migration begun while the user was in the rollout (a
// rollback must not leave a user half migrated: migrator/dual_path.hpp).
//
// Symptom codes (results::Evidence::symptom):
//   served_against_flag        a request took the path the flag state it read does not give the
//                              user (data: op, user, path, flag_version, in_rollout)
//   unknown_flag_version       a request read a flag version the controller never set
//   migrated_on_legacy_path    a request on the legacy path migrated the user, other than by
//                              finishing a migration begun while the user was in the rollout
//                              ("resumed")
//   migrated_outside_rollout   a user is migrated and no operation that could migrate them ran
#include <map>
#include <set>

#include <fmt/format.h>

#include "history/operations.hpp"
#include "invariants/capped_verdict.hpp"
#include "invariants/invariant.hpp"
#include "invariants/rollout_flags.hpp"

namespace orgquake::invariants {
namespace {

using history::EventType;
using history::string_field;

class GradualRollout final : public Invariant {
 public:
  std::string_view name() const override { return "gradual_rollout"; }
  std::string_view description() const override {
    return "no user outside the rollout is served by the org path or migrated";
  }

  Verdict check(const ObservedWorld& world) const override {
    if (world.history == nullptr) return Verdict::unknown("gradual rollout: no history recorded");
    const auto& history = *world.history;
    if (!has_serves(history)) {
      return VerdictBuilder("gradual rollout").finish("no requests under the rollout flag");
    }
    const RolloutFlags flags(history);
    CappedVerdict verdict("gradual rollout");
    std::set<std::string> could_migrate;
    int served = 0;
    for (const auto& op : history::operations_of(history)) {
      const auto& first = op.first();
      if (first.kind != history::op_serve) {
        could_migrate.insert(first.user);  // lookups and backfills migrate by design
        continue;
      }
      if (!op.ok()) {
        // Failed for certain: it changed nothing. Otherwise it may have
        // migrated before it failed or its worker died.
        const auto& end = op.completion;
        const bool definite =
            end != nullptr && end->type == EventType::fail && end->value.value("definite", false);
        if (!definite) could_migrate.insert(first.user);
        continue;
      }
      ++served;
      const auto& value = op.completion->value;
      const std::string path = string_field(value, "path");
      const auto version = value.value("flag_version", std::int64_t{-1});
      const auto flag = flags.at(version);
      const nlohmann::json where = {
          {"op", first.op}, {"user", first.user}, {"path", path}, {"flag_version", version}};
      if (!flag) {
        verdict.violation("unknown_flag_version",
                          fmt::format("op {} read version {} of the flag, which the controller "
                                      "never set",
                                      first.op, version),
                          where);
        could_migrate.insert(first.user);
        continue;
      }
      const bool covered = flag->covers(first.user);
      if ((path == "org") != covered) {
        auto data = where;
        data["in_rollout"] = covered;
        verdict.violation(
            "served_against_flag",
            fmt::format("op {} served user {} by the {} path, but version {} of the flag ({} %, "
                        "{} allow-listed) puts the user {} the rollout",
                        first.op, first.user, path, version, flag->percentage,
                        flag->allow_list.size(), covered ? "in" : "outside"),
            data);
      }
      if (path == "org") {
        could_migrate.insert(first.user);
      } else if (value.value("resumed", false) && flags.ever_covered(first.user)) {
        could_migrate.insert(first.user);  // finished what an org-path request began
      } else if (value.value("migrated_here", false)) {
        verdict.violation("migrated_on_legacy_path",
                          fmt::format("op {} served user {} by the legacy path and migrated them",
                                      first.op, first.user),
                          where);
      }
    }
    const auto migrated = world.database.exec("SELECT legacy_user_id FROM app_user ORDER BY 1");
    for (int row = 0; row < migrated.rows(); ++row) {
      const std::string user(migrated.text(row, 0));
      if (could_migrate.contains(user)) continue;
      verdict.violation("migrated_outside_rollout",
                        fmt::format("user {} is migrated, but no request served them by the org "
                                    "path and no lookup or backfill touched them",
                                    user),
                        {{"user", user}});
    }
    return verdict.finish(
        fmt::format("{} requests served, {} migrated users", served, migrated.rows()));
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(GradualRollout);
}  // namespace orgquake::invariants
