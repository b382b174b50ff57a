// Must NOT compile: a call site that misspells a failpoint is a build error,
// not a failpoint that silently never fires. Checked by the CTest test
// failpoint_typo_does_not_compile, which expects the compiler to name the typo.
#include "migrator/failpoints/failpoint.hpp"

void migrate_step() {
  ORGQUAKE_FAILPOINT(migrate_after_org_insrt);
}
