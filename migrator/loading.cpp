#include "migrator/loading.hpp"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/error.hpp"

namespace orgquake::migrator {
namespace {

constexpr const char* kUserColumns = "u.id, u.legacy_user_id, u.current_org_id, u.email";
constexpr const char* kOrgColumns = "id, name, kind, owner_user_id, contact_email";

// Every loader statement is prepared: a lookup runs on every request, and
// planning the joined query costs several times its execution.
struct Counter {
  int* queries;
  io::PgResult operator()(io::PgConnection& pg, std::string_view sql,
                          const std::vector<io::PgParam>& params) const {
    if (queries != nullptr) ++*queries;
    return pg.exec_prepared(sql, params);
  }
};

LoadedUser user_from(const io::PgResult& r, int row, int first) {
  LoadedUser user;
  user.id = r.text(row, first);
  user.legacy_user_id = r.text(row, first + 1);
  user.current_org_id = r.optional_text(row, first + 2);
  user.email = r.optional_text(row, first + 3);
  return user;
}

Org org_from(const io::PgResult& r, int row, int first) {
  return Org{std::string(r.text(row, first)), std::string(r.text(row, first + 1)),
             std::string(r.text(row, first + 2)), std::string(r.text(row, first + 3)),
             r.optional_text(row, first + 4)};
}

Role role_from(const io::PgResult& r, int row, int first) {
  return Role{static_cast<int>(r.integer(row, first)), std::string(r.text(row, first + 1)),
              static_cast<int>(r.integer(row, first + 2))};
}

void sort_memberships(LoadedUser& user) {
  std::sort(user.memberships.begin(), user.memberships.end(),
            [](const Membership& a, const Membership& b) { return a.org.id < b.org.id; });
}

// A Postgres array literal of uuids for `= ANY($1::uuid[])`.
std::string uuid_array(const std::vector<std::string>& ids) {
  std::string out = "{";
  for (std::size_t i = 0; i < ids.size(); ++i) out += (i ? "," : "") + ids[i];
  return out + "}";
}

std::optional<LoadedUser> load_joined(io::PgConnection& pg, const std::string& id, Counter run) {
  static const std::string statement = joined_lookup_statement();
  const auto r = run(pg, statement, {id});
  if (r.empty()) return std::nullopt;
  LoadedUser user = user_from(r, 0, 0);
  if (!r.is_null(0, 4)) user.personal_org = org_from(r, 0, 4);
  for (int row = 0; row < r.rows(); ++row) {
    if (r.is_null(row, 9)) continue;  // no memberships: one row of NULLs
    user.memberships.push_back(
        {org_from(r, row, 9), role_from(r, row, 14), r.optional_text(row, 17)});
  }
  sort_memberships(user);
  return user;
}

// The first two queries of the lazy strategies: the user, then its personal org.
std::optional<LoadedUser> load_user_row_and_personal_org(io::PgConnection& pg,
                                                         const std::string& id, Counter run) {
  const auto users = run(
      pg, fmt::format("SELECT {} FROM app_user u WHERE u.legacy_user_id = $1", kUserColumns), {id});
  if (users.empty()) return std::nullopt;
  LoadedUser user = user_from(users, 0, 0);
  const auto personal = run(
      pg,
      fmt::format("SELECT {} FROM org WHERE owner_user_id = $1 AND kind = 'personal'", kOrgColumns),
      {id});
  if (!personal.empty()) user.personal_org = org_from(personal, 0, 0);
  return user;
}

std::optional<LoadedUser> load_selectin(io::PgConnection& pg, const std::string& id, Counter run) {
  // One query per relationship: user, personal org, memberships, then the
  // orgs and roles those memberships name, each as one IN list.
  auto loaded = load_user_row_and_personal_org(pg, id, run);
  if (!loaded) return std::nullopt;
  LoadedUser& user = *loaded;
  const auto members =
      run(pg, "SELECT org_id, role_id, llm_api_key FROM org_member WHERE user_id = $1", {user.id});
  if (members.empty()) return user;
  std::vector<std::string> org_ids;
  std::vector<std::string> role_ids;
  for (int i = 0; i < members.rows(); ++i) {
    org_ids.emplace_back(members.text(i, 0));
    role_ids.emplace_back(members.text(i, 1));
  }
  std::string role_list = "{";
  for (std::size_t i = 0; i < role_ids.size(); ++i) role_list += (i ? "," : "") + role_ids[i];
  role_list += "}";
  const auto orgs =
      run(pg, fmt::format("SELECT {} FROM org WHERE id = ANY($1::uuid[])", kOrgColumns),
          {uuid_array(org_ids)});
  const auto roles =
      run(pg, "SELECT id, name, rank FROM role WHERE id = ANY($1::int[])", {role_list});
  std::map<std::string, Org, std::less<>> org_by_id;
  for (int i = 0; i < orgs.rows(); ++i)
    org_by_id.emplace(std::string(orgs.text(i, 0)), org_from(orgs, i, 0));
  std::map<std::string, Role, std::less<>> role_by_id;
  for (int i = 0; i < roles.rows(); ++i)
    role_by_id.emplace(std::string(roles.text(i, 0)), role_from(roles, i, 0));
  for (int i = 0; i < members.rows(); ++i) {
    // The joins the database did for `joined`, done here by id.
    const auto org = org_by_id.find(members.text(i, 0));
    const auto role = role_by_id.find(members.text(i, 1));
    if (org == org_by_id.end() || role == role_by_id.end()) continue;  // deleted meanwhile
    user.memberships.push_back({org->second, role->second, members.optional_text(i, 2)});
  }
  sort_memberships(user);
  return user;
}

std::optional<LoadedUser> load_n_plus_one(io::PgConnection& pg, const std::string& id,
                                          Counter run) {
  // What lazy loading does: one query for the list, then one per row for
  // each relationship of the row.
  auto loaded = load_user_row_and_personal_org(pg, id, run);
  if (!loaded) return std::nullopt;
  LoadedUser& user = *loaded;
  const auto members = run(pg, "SELECT org_id FROM org_member WHERE user_id = $1", {user.id});
  for (int i = 0; i < members.rows(); ++i) {
    const std::string org_id(members.text(i, 0));
    const auto member =
        run(pg, "SELECT role_id, llm_api_key FROM org_member WHERE org_id = $1 AND user_id = $2",
            {org_id, user.id});
    const auto org =
        run(pg, fmt::format("SELECT {} FROM org WHERE id = $1", kOrgColumns), {org_id});
    if (member.empty() || org.empty()) continue;  // deleted between queries
    const auto role =
        run(pg, "SELECT id, name, rank FROM role WHERE id = $1", {std::string(member.text(0, 0))});
    if (role.empty()) continue;
    user.memberships.push_back(
        {org_from(org, 0, 0), role_from(role, 0, 0), member.optional_text(0, 1)});
  }
  sort_memberships(user);
  return user;
}

}  // namespace

std::ostream& operator<<(std::ostream& out, const LoadedUser& user) {
  out << "user " << user.id << " (legacy " << user.legacy_user_id << "), personal org "
      << (user.personal_org ? user.personal_org->id : "none") << ", memberships [";
  for (const auto& m : user.memberships) out << ' ' << m.org.id << ':' << m.role.name;
  return out << " ]";
}

std::string_view name_of(LoadStrategy strategy) {
  switch (strategy) {
    case LoadStrategy::joined:
      return "joined";
    case LoadStrategy::selectin:
      return "selectin";
    case LoadStrategy::n_plus_one:
      return "n_plus_one";
  }
  return "?";
}

LoadStrategy parse_load_strategy(std::string_view name) {
  for (auto s : {LoadStrategy::joined, LoadStrategy::selectin, LoadStrategy::n_plus_one}) {
    if (name == name_of(s)) return s;
  }
  throw UsageError(
      fmt::format("unknown loading strategy '{}'; use joined, selectin or n_plus_one", name));
}

std::string joined_lookup_statement() {
  // One round trip: the user, its personal org, and every membership with
  // its org and role. The personal org repeats on every membership row.
  return fmt::format(
      "SELECT {}, "
      "p.id, p.name, p.kind, p.owner_user_id, p.contact_email, "
      "o.id, o.name, o.kind, o.owner_user_id, o.contact_email, "
      "r.id, r.name, r.rank, m.llm_api_key "
      "FROM app_user u "
      "LEFT JOIN org p ON p.owner_user_id = u.legacy_user_id AND p.kind = 'personal' "
      "LEFT JOIN org_member m ON m.user_id = u.id "
      "LEFT JOIN org o ON o.id = m.org_id "
      "LEFT JOIN role r ON r.id = m.role_id "
      "WHERE u.legacy_user_id = $1",
      kUserColumns);
}

std::optional<LoadedUser> load_user(io::PgConnection& pg, const std::string& legacy_user_id,
                                    LoadStrategy strategy, int* queries) {
  const Counter run{queries};
  switch (strategy) {
    case LoadStrategy::joined:
      return load_joined(pg, legacy_user_id, run);
    case LoadStrategy::selectin:
      return load_selectin(pg, legacy_user_id, run);
    case LoadStrategy::n_plus_one:
      return load_n_plus_one(pg, legacy_user_id, run);
  }
  return std::nullopt;
}

std::optional<LegacySettings> load_legacy_settings(io::PgConnection& pg,
                                                   const std::string& legacy_user_id) {
  const auto r = pg.exec(
      "SELECT user_id, username, email, llm_api_key, llm_model, user_version, settings::text "
      "FROM user_settings WHERE user_id = $1",
      {legacy_user_id});
  if (r.empty()) return std::nullopt;
  return LegacySettings{std::string(r.text(0, 0)), std::string(r.text(0, 1)),
                        r.optional_text(0, 2),     r.optional_text(0, 3),
                        r.optional_text(0, 4),     static_cast<int>(r.integer(0, 5)),
                        std::string(r.text(0, 6))};
}

}  // namespace orgquake::migrator
