// Every successful lookup (or migration, or request served by the org path)
// of a user returned the same org, and
// that org is the user's personal org as the database committed it. Two
// concurrent first lookups that each create an org, or a lookup that answers
// from a half-written or rolled-back migration, show up here even when the
// end state of the database looks clean.
//
// Symptom codes (results::Evidence::symptom):
//   different_orgs_served       one user's successful operations returned more than one org
//   served_org_not_in_database  an operation returned an org the database does not hold
//                               (never committed, or rolled back; operations before a restore
//                               of the database from a backup are not held to it)
//   served_other_users_org      an operation returned another user's personal org
//   served_non_personal_org     an operation returned an org that is not a personal org
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
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

// "op 12 (worker 1, client 0) at 1.2 s": enough to find it in history.jsonl.
std::string describe(const Operation& op) {
  const auto& e = *op.completion;
  return fmt::format("op {} (worker {}, client {}) at {}", e.op, e.worker, e.client,
                     seconds(e.time_ns));
}

nlohmann::json ops_json(const std::vector<const Operation*>& ops) {
  auto json = nlohmann::json::array();
  for (std::size_t i = 0; i < ops.size() && i < max_ops_per_evidence; ++i)
    json.push_back(to_json(*ops[i]));
  return json;
}

// Postgres prints uuids in lower case; an engine or migrator may not.
std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// A text[] literal, each element quoted, for `= ANY($1::text[])`.
std::string text_array(const std::vector<std::string>& items) {
  std::string out = "{";
  for (const auto& item : items) {
    if (out.size() > 1) out += ',';
    out += '"';
    for (char c : item) {
      if (c == '"' || c == '\\') out += '\\';
      out += c;
    }
    out += '"';
  }
  return out + "}";
}

// user -> org id it was served -> the ok operations that served it.
using ServedOrgs = std::map<std::string, std::map<std::string, std::vector<const Operation*>>>;

class SameOrgPerLookup final : public Invariant {
 public:
  std::string_view name() const override { return "same_org_per_lookup"; }
  std::string_view description() const override {
    return "every successful lookup of a user returned the same org, its committed personal org";
  }

  Verdict check(const ObservedWorld& world) const override {
    if (world.history == nullptr)
      return Verdict::unknown("same org per lookup: no history recorded");
    const auto ops = operations_of(*world.history);
    // A database restored from a backup (backfill_restore) no longer holds
    // what operations before the restore were served from: those are
    // compared with each other, not with it.
    std::int64_t restored_at = -1;
    for (const auto& e : world.history->events()) {
      if (e.type == EventType::rollout && e.kind == "restore") restored_at = e.time_ns;
    }
    ServedOrgs served, served_since_restore;
    int served_ops = 0;
    for (const auto& op : ops) {
      if (!op.ok()) continue;
      const auto& kind = op.first().kind;
      // A request on the org path answers with the org too (op serve).
      if (kind != history::op_lookup && kind != history::op_migrate && kind != history::op_serve)
        continue;
      const auto org = lower(string_field(op.completion->value, "org_id"));
      const auto& user = op.first().user;
      if (org.empty() || user.empty()) continue;
      served[user][org].push_back(&op);
      if (op.first().time_ns > restored_at) served_since_restore[user][org].push_back(&op);
      ++served_ops;
    }
    if (served.empty()) {
      return Verdict::unknown(
          "same org per lookup: no lookup or migration succeeded in this trial; nothing to "
          "compare");
    }

    CappedVerdict verdict("same org per lookup");
    for (const auto& [user, orgs] : served) {
      if (orgs.size() < 2) continue;
      std::vector<std::string> parts;
      auto orgs_json = nlohmann::json::array();
      for (const auto& [org, by] : orgs) {
        parts.push_back(fmt::format("{} by {} operation{} (first {})", org, by.size(),
                                    by.size() == 1 ? "" : "s", describe(*by.front())));
        orgs_json.push_back({{"org_id", org}, {"count", by.size()}, {"ops", ops_json(by)}});
      }
      verdict.violation("different_orgs_served",
                        fmt::format("user {} was served {} different orgs: {}", user, orgs.size(),
                                    fmt::join(parts, "; ")),
                        {{"user", user}, {"orgs", orgs_json}});
    }
    check_against_database(world.database, served_since_restore, verdict);

    std::size_t users = served.size();
    return verdict.finish(fmt::format("{} successful operation{} on {} user{}", served_ops,
                                      served_ops == 1 ? "" : "s", users, users == 1 ? "" : "s"));
  }

 private:
  // An org a user was served must be the personal org the database holds
  // for it: a lookup that answered with anything else handed out an org the
  // migration never committed (or someone else's).
  static void check_against_database(io::PgConnection& db, const ServedOrgs& served,
                                     CappedVerdict& verdict) {
    std::vector<std::string> users;
    for (const auto& entry : served) users.push_back(entry.first);
    const auto rows = db.exec(
        "SELECT owner_user_id, id::text FROM org WHERE kind = 'personal' "
        "AND owner_user_id = ANY($1::text[])",
        {text_array(users)});
    std::map<std::string, std::set<std::string>> committed;
    for (int i = 0; i < rows.rows(); ++i)
      committed[std::string(rows.text(i, 0))].insert(std::string(rows.text(i, 1)));

    std::vector<std::pair<const std::string*, const std::string*>> stray;  // (user, org)
    for (const auto& [user, orgs] : served) {
      const auto& mine = committed[user];
      for (const auto& entry : orgs)
        if (mine.count(entry.first) == 0) stray.emplace_back(&user, &entry.first);
    }
    if (stray.empty()) return;

    // What each stray org is, so that the evidence tells another user's org
    // from an org that was never committed.
    std::vector<std::string> stray_orgs;
    for (const auto& s : stray) stray_orgs.push_back(*s.second);
    const auto known =
        db.exec("SELECT id::text, kind, owner_user_id FROM org WHERE id::text = ANY($1::text[])",
                {text_array(stray_orgs)});
    // org id -> (symptom, what it is)
    std::map<std::string, std::pair<const char*, std::string>> what_org_is;
    for (int i = 0; i < known.rows(); ++i) {
      what_org_is[std::string(known.text(i, 0))] =
          known.text(i, 1) == "personal"
              ? std::pair("served_other_users_org",
                          fmt::format("user {}'s personal org", known.text(i, 2)))
              : std::pair("served_non_personal_org",
                          fmt::format("a {} org owned by {}", known.text(i, 1), known.text(i, 2)));
    }

    for (const auto& [user, org] : stray) {
      const auto& by = served.at(*user).at(*org);
      const auto& mine = committed[*user];
      const auto it = what_org_is.find(*org);
      const auto& [symptom, is] =
          it == what_org_is.end() ? std::pair<const char*, std::string>(
                                        "served_org_not_in_database", "an org not in the database")
                                  : it->second;
      const auto count = fmt::format("{} operation{} (first {})", by.size(),
                                     by.size() == 1 ? "" : "s", describe(*by.front()));
      const auto what =
          mine.empty()
              ? fmt::format(
                    "user {} has no personal org in the database, yet {} returned org {}, "
                    "{}",
                    *user, count, *org, is)
              : fmt::format("{} on user {} returned org {}, {}, not its committed personal org {}",
                            count, *user, *org, is, fmt::join(mine, ", "));
      verdict.violation(symptom, what,
                        {{"user", *user},
                         {"org_id", *org},
                         {"committed_personal_orgs", mine},
                         {"count", by.size()},
                         {"ops", ops_json(by)}});
    }
  }
};

}  // namespace
ORGQUAKE_REGISTER_INVARIANT(SameOrgPerLookup);
}  // namespace orgquake::invariants
