#define BOOST_TEST_MODULE orgquake failpoints
#include <boost/test/unit_test.hpp>
