#include "tests/support/shared_services.hpp"

#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <unistd.h>

#include "services/embedded_postgres.hpp"
#include "services/embedded_redis.hpp"

namespace orgquake::test {

services::Services& shared_services() {
  // The servers die with the thread that started them (parent-death signal),
  // so a short-lived test thread must not be the one to start them.
  if (gettid() != getpid()) {
    throw std::logic_error("start shared_services() from the main thread, before other threads");
  }
  static std::unique_ptr<services::Services> instance = services::Services::start({});
  return *instance;
}

boost::test_tools::assertion_result services_available::operator()(
    boost::unit_test::test_unit_id) const {
  const char* require = std::getenv("ORGQUAKE_REQUIRE_SERVICES");
  if (require != nullptr && std::string(require) == "1") return true;
  try {
    services::find_postgres_binaries();
    services::find_redis_server();
    return true;
  } catch (const std::exception& e) {
    boost::test_tools::assertion_result result(false);
    result.message() << "skipped, needs " << needs << ": " << e.what();
    return result;
  }
}

}  // namespace orgquake::test
