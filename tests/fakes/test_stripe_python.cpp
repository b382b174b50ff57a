// The official Python client (Debian python3-stripe) against the fake, unchanged
// but for api_base: the check the issue names for "faithful". Skipped when
// no python3 with the stripe module is installed.
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <string_view>
#include <unistd.h>

#include <boost/test/unit_test.hpp>
#include <fmt/format.h>

#include "fakes/stripe_fake.hpp"

using namespace orgquake::fakes;

namespace {

constexpr const char* kScript = R"PY(
import sys
import stripe

stripe.api_base = sys.argv[1]
stripe.api_key = sys.argv[2]
stripe.max_network_retries = 0

c = stripe.Customer.create(email="py@example.com", name="Py", metadata={"user_id": "u1"})
assert c.id.startswith("cus_"), c.id
assert stripe.Customer.retrieve(c.id).email == "py@example.com"
m = stripe.Customer.modify(c.id, metadata={"org_id": "o1", "user_id": ""})
assert m.metadata.to_dict() == {"org_id": "o1"}, m.metadata
found = stripe.Customer.search(query="metadata['org_id']:'o1' AND email:'py@example.com'")
assert [x.id for x in found.data] == [c.id], found
for i in range(3):
    stripe.Customer.create(email="many@example.com")
assert len(stripe.Customer.list(email="many@example.com").data) == 3
paged = [x.id for x in stripe.Customer.list(limit=1).auto_paging_iter()]
assert len(paged) == 4 and c.id in paged, paged

s = stripe.Subscription.create(customer=c.id, items=[{"price": "price_pro"}],
                               metadata={"user_id": "u1"})
assert s.id.startswith("sub_") and s.status == "active"
assert stripe.Subscription.retrieve(s.id).customer == c.id
s2 = stripe.Subscription.modify(s.id, metadata={"org_id": "o1", "user_id": ""})
assert s2.metadata.to_dict() == {"org_id": "o1"}
assert [x.id for x in stripe.Subscription.list(customer=c.id).data] == [s.id]

a = stripe.Customer.create(email="idem@example.com", idempotency_key="py-key-1")
b = stripe.Customer.create(email="idem@example.com", idempotency_key="py-key-1")
assert a.id == b.id
try:
    stripe.Customer.create(email="other@example.com", idempotency_key="py-key-1")
    raise SystemExit("reused key with other params was accepted")
except stripe.error.IdempotencyError:
    pass
try:
    stripe.Customer.retrieve("cus_missing")
    raise SystemExit("missing customer was found")
except stripe.error.InvalidRequestError as e:
    assert e.http_status == 404 and e.code == "resource_missing"
try:
    stripe.Customer.list(api_key="sk_test_wrong_but_long")
    raise SystemExit("wrong key was accepted")
except stripe.error.AuthenticationError:
    pass

inv = stripe.Invoice.create(customer=c.id)
assert [x.id for x in stripe.Invoice.list(customer=c.id).data] == [inv.id]
assert stripe.Customer.delete(c.id).deleted
print("ok")
)PY";

/// A python3 that can import stripe, or empty. Debian's interpreter first:
/// python3-stripe installs for it, whatever python3 comes first on PATH.
std::string find_python() {
  for (const char* candidate : {"/usr/bin/python3", "python3"}) {
    const std::string probe = fmt::format("{} -c 'import stripe' >/dev/null 2>&1", candidate);
    if (std::system(probe.c_str()) == 0) return candidate;
  }
  return {};
}

/// Skipped without the package, except under ci/quake test
/// (ORGQUAKE_REQUIRE_SERVICES=1), which installs it: there its absence fails.
boost::test_tools::assertion_result stripe_python_available(boost::unit_test::test_unit_id) {
  if (const char* required = std::getenv("ORGQUAKE_REQUIRE_SERVICES");
      required != nullptr && std::string_view(required) == "1") {
    return true;
  }
  boost::test_tools::assertion_result available(!find_python().empty());
  available.message() << "no python3 with the stripe module (apt-get install python3-stripe)";
  return available;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(stripe_python, *boost::unit_test::label("fakes"))

BOOST_AUTO_TEST_CASE(official_python_client_works_against_the_fake,
                     *boost::unit_test::precondition(stripe_python_available)) {
  const std::string python = find_python();
  BOOST_TEST_REQUIRE(!python.empty(),
                     "no python3 with the stripe module (ci/quake setup installs "
                     "python3-stripe)");
  StripeFake stripe;
  stripe.start();
  const std::string script = fmt::format("/tmp/orgquake-stripe-check-{}.py", ::getpid());
  std::ofstream(script) << kScript;
  const std::string command = fmt::format("NO_PROXY=127.0.0.1 no_proxy=127.0.0.1 {} {} {} {} 2>&1",
                                          python, script, stripe.url(), stripe.secret_key());
  std::string output;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buffer[512];
    while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
    const int status = ::pclose(pipe);
    BOOST_TEST(status == 0, "python client failed:\n" << output);
  } else {
    BOOST_FAIL("popen failed");
  }
  std::remove(script.c_str());
  BOOST_TEST(output.find("ok") != std::string::npos);
  BOOST_TEST(stripe.ledger().requests().size() > 20u);
}

BOOST_AUTO_TEST_SUITE_END()
