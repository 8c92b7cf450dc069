// The plugins' shared support libraries (plugins/common), one file per library: args, sqlite
// (with the sample seeded once), text, paths, time and sha256. The HTTP client has its own
// executable (test_http_client.cpp), with a loopback server.
#define BOOST_TEST_MODULE plugin_support
#include <boost/test/unit_test.hpp>
