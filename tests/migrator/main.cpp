#define BOOST_TEST_MODULE orgquake reference migrator
#include <boost/test/unit_test.hpp>
