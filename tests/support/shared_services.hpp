#pragma once

#include <boost/test/unit_test.hpp>

#include "services/services.hpp"

namespace orgquake::test {

/// Embedded PostgreSQL and Redis shared by every case of one test program,
/// started on first use and stopped at exit.
services::Services& shared_services();

/// Precondition for suites that need the real servers: skipped (not failed)
/// where postgres or redis-server is not installed, unless
/// ORGQUAKE_REQUIRE_SERVICES=1 (ci/quake test sets it), where their absence
/// must fail loudly rather than pass by skipping.
struct services_available {
  // Named in the skip message. (A member also keeps GCC 12 from warning that
  // boost::function copies an empty functor's uninitialized bytes.)
  const char* needs = "PostgreSQL and Redis";
  boost::test_tools::assertion_result operator()(boost::unit_test::test_unit_id) const;
};

}  // namespace orgquake::test
