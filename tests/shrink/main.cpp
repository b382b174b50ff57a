// The shrinker's parts without servers: delta debugging on made-up tests,
// the spec file a shrink writes (read back by the real spec parser), and the
// story told from a made-up history.
#define BOOST_TEST_MODULE orgquake shrink parts
#include <boost/test/unit_test.hpp>
