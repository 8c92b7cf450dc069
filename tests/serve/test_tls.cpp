// TLS for `toolhost serve --http` (host/serve/src/http/tls): the context from certificate files
// made by a test CA (the openssl command), and its reload. Through the real server (handshakes
// with curl and openssl s_client, SIGHUP): test_serve_http.
#define BOOST_TEST_MODULE tls
#include <boost/test/unit_test.hpp>

#include "http/tls.hpp"
#include "test_support.hpp"
#include "tls_files.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

using toolhost::test::contains;
using toolhost::test::temp_dir;

namespace {

// The serial number of the certificate a context would present.
long serial_of(const boost::asio::ssl::context& ctx) {
    X509* cert = SSL_CTX_get0_certificate(const_cast<boost::asio::ssl::context&>(ctx).native_handle());
    return cert ? ASN1_INTEGER_get(X509_get0_serialNumber(cert)) : -1;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_context_from_the_files_and_a_reload_that_keeps_the_old_on_failure) {
    temp_dir dir;
    toolhost::test::test_ca ca(dir.path());
    const auto first = ca.issue("server", 1);
    toolhost::tls_settings s;
    s.certificate = first.certificate.string();
    s.private_key = first.private_key.string();
    auto tls = toolhost::serve::detail::tls_contexts::open(s);
    BOOST_REQUIRE_MESSAGE(tls, (tls ? "" : tls.error()));
    const auto before = (*tls)->current();
    BOOST_TEST(serial_of(*before) == 1);
    BOOST_TEST(SSL_CTX_get_min_proto_version(before->native_handle()) == TLS1_2_VERSION);

    // A renewed certificate, written over the old files: the reload picks it up.
    const auto second = ca.issue("renewed", 2);
    std::filesystem::copy_file(second.certificate, first.certificate,
                               std::filesystem::copy_options::overwrite_existing);
    std::filesystem::copy_file(second.private_key, first.private_key,
                               std::filesystem::copy_options::overwrite_existing);
    BOOST_TEST((*tls)->reload() == "");
    BOOST_TEST(serial_of(*(*tls)->current()) == 2);
    BOOST_TEST(serial_of(*before) == 1);  // a connection that started with it keeps it

    // Half-written files: the old context stays, and the reason names the file.
    toolhost::test::write_file(first.private_key, "-----BEGIN PRIVATE KEY-----\ntruncated");
    const auto why = (*tls)->reload();
    BOOST_TEST(contains(why, first.private_key.string() + ": not a usable PEM private key"), why);
    BOOST_TEST(serial_of(*(*tls)->current()) == 2);
}

BOOST_AUTO_TEST_CASE(files_that_do_not_make_a_pair_are_refused) {
    temp_dir dir;
    toolhost::test::test_ca ca(dir.path());
    const auto a = ca.issue("a", 1);
    const auto b = ca.issue("b", 2);
    toolhost::tls_settings s;
    s.certificate = a.certificate.string();
    s.private_key = b.private_key.string();
    auto tls = toolhost::serve::detail::tls_contexts::open(s);
    BOOST_REQUIRE(tls.has_error());
    BOOST_TEST(contains(tls.error(), "not the key of the certificate in " + a.certificate.string()), tls.error());
    s.certificate = (dir / "missing.pem").string();
    tls = toolhost::serve::detail::tls_contexts::open(s);
    BOOST_TEST(contains(tls.error(), "missing.pem: not a usable PEM certificate"), tls.error());
    s.certificate = a.certificate.string();
    s.private_key = a.private_key.string();
    s.min_version = "1.3";
    tls = toolhost::serve::detail::tls_contexts::open(s);
    BOOST_REQUIRE(tls);
    BOOST_TEST(SSL_CTX_get_min_proto_version((*tls)->current()->native_handle()) == TLS1_3_VERSION);
}
