#pragma once

#include <stdexcept>
#include <string>

#include "migrator/model.hpp"

namespace orgquake::migrator {

/// A loaded user that is not fully migrated: the lookup's answer is this
/// error, never a half-built object.
class VerificationError : public std::runtime_error {
 public:
  enum class Problem { no_user, no_personal_org, wrong_current_org, not_a_member, not_owner };
  VerificationError(Problem problem, const std::string& legacy_user_id, const std::string& detail);
  Problem problem() const { return problem_; }

 private:
  Problem problem_;
};

const char* name_of(VerificationError::Problem problem);

/// Checks that the personal org exists, is the user's current org, and that
/// the user is its member with the owner role. Throws VerificationError.
void verify(const LoadedUser& user);

}  // namespace orgquake::migrator
