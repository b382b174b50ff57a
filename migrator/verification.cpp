#include "migrator/verification.hpp"

#include <fmt/format.h>

namespace orgquake::migrator {

const char* name_of(VerificationError::Problem problem) {
  switch (problem) {
    case VerificationError::Problem::no_user:
      return "no_user";
    case VerificationError::Problem::no_personal_org:
      return "no_personal_org";
    case VerificationError::Problem::wrong_current_org:
      return "wrong_current_org";
    case VerificationError::Problem::not_a_member:
      return "not_a_member";
    case VerificationError::Problem::not_owner:
      return "not_owner";
  }
  return "?";
}

VerificationError::VerificationError(Problem problem, const std::string& legacy_user_id,
                                     const std::string& detail)
    : std::runtime_error(fmt::format("user {} failed verification ({}): {}", legacy_user_id,
                                     name_of(problem), detail)),
      problem_(problem) {}

void verify(const LoadedUser& user) {
  using P = VerificationError::Problem;
  if (!user.personal_org) {
    throw VerificationError(P::no_personal_org, user.legacy_user_id, "it has no personal org");
  }
  const Org& org = *user.personal_org;
  if (user.current_org_id != org.id) {
    throw VerificationError(P::wrong_current_org, user.legacy_user_id,
                            fmt::format("current org {} is not the personal org {}",
                                        user.current_org_id.value_or("(none)"), org.id));
  }
  for (const auto& m : user.memberships) {
    if (m.org.id != org.id) continue;
    if (m.role.name != "owner") {
      throw VerificationError(P::not_owner, user.legacy_user_id,
                              fmt::format("its role in its personal org is {}", m.role.name));
    }
    return;
  }
  throw VerificationError(P::not_a_member, user.legacy_user_id,
                          fmt::format("it is not a member of its personal org {}", org.id));
}

}  // namespace orgquake::migrator
