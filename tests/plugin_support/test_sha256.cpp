// toolhost_plugin_sha256: SHA-256 over OpenSSL, in one go or in parts.
#include <boost/test/unit_test.hpp>

#include <toolhost_plugins/sha256.hpp>

namespace plugins = toolhost::plugins;

BOOST_AUTO_TEST_SUITE(sha256)

BOOST_AUTO_TEST_CASE(matches_the_published_digests) {
    BOOST_TEST(plugins::sha256::of("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    BOOST_TEST(plugins::sha256::of("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    plugins::sha256 parts;
    parts.update("a");
    parts.update("bc");
    BOOST_TEST(parts.hex_digest() == plugins::sha256::of("abc"));
}

BOOST_AUTO_TEST_SUITE_END()
