// The lookup's verification accepts a user who is no owner member of its
// personal org (it checks that the org exists and is current, not the
// membership or its role).
//
// Equivalent on its own: the reference writes the org, the app_user and the
// owner membership in one transaction, so no state it can reach, under any
// crash, pause or fault, has a user without its owner membership; a
// verification that skips the check answers every lookup exactly as the
// reference does. It shows only beside a bug that leaves such a state
// (org_and_membership_apart, or a partial migration by an earlier version),
// which is why the catalog argues it here instead of hiding it.
//
// Source: the post-migration verification principle's checks, done for the
// org and not the membership.
#include "migrator/bugs/bugs.hpp"
#include "migrator/reference_migrator.hpp"
#include "migrator/verification.hpp"

namespace orgquake::migrator::bugs {
namespace {

class VerificationWithoutOwner final : public ReferenceMigrator {
 public:
  std::string_view name() const override { return "bug:verification_without_owner"; }

 protected:
  void verify_loaded(const LoadedUser& user) override {
    if (!user.personal_org) {
      throw VerificationError(VerificationError::Problem::no_personal_org, user.legacy_user_id,
                              "no personal org");
    }
    // ...and nothing about the membership or its role.
  }
};

}  // namespace

CatalogBug verification_without_owner() {
  return {"verification_without_owner",
          "the lookup's verification accepts a user who is no owner member of its org",
          "verification of the org without the membership",
          "the reference commits org, user and owner membership in one transaction, so no "
          "reachable state lacks the membership: every answer equals the reference's",
          [] { return std::make_unique<VerificationWithoutOwner>(); },
          {"complete_ownership/not_org_member"}};
}

}  // namespace orgquake::migrator::bugs
