// The fakes' Boost.Test module: fake Stripe, fake LiteLLM, their faults and ledgers,
// all exercised over real HTTP on loopback.
#define BOOST_TEST_MODULE orgquake_fakes
#include <boost/test/unit_test.hpp>
