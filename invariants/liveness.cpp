// Safety is cheap if nothing ever succeeds: after the faults heal, every user
// the trial hurt (the liveness phase names them) must come back, with a
// lookup in the liveness phase that completes ok, verified, within the bound.
// Catches locks that never expire, poisoned half-migrations a retry cannot
// finish, and a migrator that fails safe forever.
//
// Symptom codes (results::Evidence::symptom); for a user with several
// liveness operations, the code is that of the one that came closest to
// bringing it back (too slow, then unverified, failed, unknown, hung):
//   no_liveness_operation          a user the phase names had no operation in it
//   recovered_too_slowly           a lookup came back ok and verified, but past the bound
//   recovered_unverified           a lookup came back ok, but not verified
//   not_recovered_failed           the lookups failed
//   not_recovered_outcome_unknown  the lookups ended with their outcome unknown (worker died)
//   not_recovered_hung             the lookups never completed (or have no invoke)
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "history/operations.hpp"
#include "invariants/capped_verdict.hpp"
#include "invariants/invariant.hpp"

namespace orgquake::invariants {
namespace {

using history::Event;
using history::EventType;
using history::Operation;
using history::operations_of;
using history::seconds;
using history::string_field;

// Why an operation does not show the user back: its symptom code, ranked by
// how close it came (higher is closer), and a phrase.
struct Shortfall {
  int closeness = 0;
  const char* symptom = "";
  std::string why;  ///< "" when the operation shows the user back
};

Shortfall shortfall(const Operation& op, std::int64_t bound_ns) {
  const auto& first = op.first();
  const auto who =
      fmt::format("op {} (worker {}, client {})", first.op, first.worker, first.client);
  if (op.invoke == nullptr) return {0, "not_recovered_hung", who + " has no invoke in the history"};
  if (op.completion == nullptr) return {0, "not_recovered_hung", who + " never completed"};
  const auto& end = *op.completion;
  const auto error = [&] {
    const auto type = string_field(end.value, "error");
    const auto message = string_field(end.value, "message");
    if (type.empty()) return message.empty() ? std::string("no error recorded") : message;
    return message.empty() ? type : type + ": " + message;
  };
  if (end.type == EventType::fail)
    return {2, "not_recovered_failed", who + " failed with " + error()};
  if (end.type == EventType::info) {
    return {1, "not_recovered_outcome_unknown",
            who + " ended with its outcome unknown (" + error() + ")"};
  }
  const auto verified = end.value.find("verified");
  if (verified == end.value.end() || !verified->is_boolean() || !verified->get<bool>())
    return {3, "recovered_unverified", who + " completed ok but unverified"};
  const auto took = end.time_ns - op.invoke->time_ns;
  if (took > bound_ns)
    return {4, "recovered_too_slowly", fmt::format("{} took {}", who, seconds(took))};
  return {};
}

class Liveness final : public Invariant {
 public:
  std::string_view name() const override { return "liveness"; }
  std::string_view description() const override {
    return "after faults heal, every affected user comes back verified within a bound";
  }

  Verdict check(const ObservedWorld& world) const override {
    if (world.history == nullptr) return Verdict::unknown("liveness: no history recorded");
    const auto& events = world.history->events();
    const auto phase = std::find_if(events.begin(), events.end(), [](const Event& e) {
      return e.type == EventType::phase && e.kind == history::phase_liveness;
    });
    if (phase == events.end())
      return Verdict::unknown("liveness: the trial recorded no liveness phase");
    const auto users = phase->value.find("users");
    const auto bound = phase->value.find("bound_ms");
    if (users == phase->value.end() || !users->is_array() || bound == phase->value.end() ||
        !bound->is_number()) {
      return Verdict::unknown("liveness: the liveness phase event lacks its users or bound_ms: " +
                              phase->to_json().dump());
    }
    const auto bound_ns = std::llround(bound->get<double>() * 1e6);

    const auto ops = operations_of(*world.history);
    std::unordered_map<std::string, std::vector<const Operation*>> by_user;
    for (const auto& op : ops) {
      const auto& first = op.first();
      if (first.phase == history::phase_liveness && !first.user.empty())
        by_user[first.user].push_back(&op);
    }

    // No lookup at all is the harness failing to run the phase (its worker
    // did not start), not the migrator failing to recover: undecided.
    if (by_user.empty() && !users->empty()) {
      return Verdict::unknown(fmt::format(
          "liveness: the liveness phase ran no operation for its {} user{}; the harness could "
          "not look them up",
          users->size(), users->size() == 1 ? "" : "s"));
    }
    CappedVerdict verdict("liveness");
    std::set<std::string> seen;
    for (const auto& entry : *users) {
      if (!entry.is_string()) continue;
      const auto user = entry.get<std::string>();
      if (!seen.insert(user).second) continue;
      const auto& tried = by_user[user];
      if (tried.empty()) {
        verdict.violation(
            "no_liveness_operation",
            fmt::format("user {} had no operation in the liveness phase", user),
            {{"user", user}, {"bound_ms", bound->get<double>()}, {"phase", phase->to_json()}});
        continue;
      }
      // One lookup that came back is enough: a retry that succeeds is the
      // user coming back.
      std::vector<std::string> reasons;
      Shortfall closest{-1, "", ""};
      for (const auto* op : tried) {
        auto missed = shortfall(*op, bound_ns);
        if (missed.why.empty()) {
          reasons.clear();
          break;
        }
        if (missed.closeness > closest.closeness) closest = missed;
        reasons.push_back(std::move(missed.why));
      }
      if (reasons.empty()) continue;
      auto ops_json = nlohmann::json::array();
      for (std::size_t i = 0; i < tried.size() && i < max_ops_per_evidence; ++i)
        ops_json.push_back(to_json(*tried[i]));
      const auto shown = std::min<std::size_t>(reasons.size(), 3);
      auto listed = fmt::format("{}", fmt::join(reasons.begin(), reasons.begin() + shown, "; "));
      if (reasons.size() > shown) listed += fmt::format("; and {} more", reasons.size() - shown);
      verdict.violation(closest.symptom,
                        fmt::format("user {} did not come back verified within {} after the "
                                    "faults healed: {}",
                                    user, seconds(bound_ns), listed),
                        {{"user", user},
                         {"bound_ms", bound->get<double>()},
                         {"count", tried.size()},
                         {"ops", ops_json}});
    }
    return verdict.finish(
        fmt::format("{} user{} in the liveness phase", seen.size(), seen.size() == 1 ? "" : "s"));
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(Liveness);
}  // namespace orgquake::invariants
