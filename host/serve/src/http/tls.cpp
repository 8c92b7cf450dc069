#include "tls.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace toolhost::serve::detail {
namespace {

namespace ssl = boost::asio::ssl;

// The ECDHE suites with AEAD ciphers (Mozilla "intermediate"); TLS 1.3 suites are OpenSSL's.
constexpr const char* tls12_ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

// The last OpenSSL error, in words, and the queue cleared.
std::string openssl_error() {
    const unsigned long e = ERR_peek_last_error();
    char buf[256] = {};
    ERR_error_string_n(e, buf, sizeof buf);
    ERR_clear_error();
    return e != 0 ? std::string(buf) : std::string("unknown error");
}

int select_http11(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in, unsigned inlen,
                  void*) {
    static constexpr unsigned char http11[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    unsigned char* selected = nullptr;
    if (SSL_select_next_proto(&selected, outlen, http11, sizeof http11, in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;  // a client without http/1.1 still gets it, unannounced
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}

}  // namespace

boost::system::result<std::shared_ptr<ssl::context>, std::string> tls_contexts::load(const tls_settings& s) {
    auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
    SSL_CTX* native = ctx->native_handle();
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use |
                     ssl::context::no_compression);
    SSL_CTX_set_min_proto_version(native, s.min_version == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_options(native, SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    if (SSL_CTX_set_cipher_list(native, tls12_ciphers) != 1) return "TLS: " + openssl_error();
    if (SSL_CTX_use_certificate_chain_file(native, s.certificate.c_str()) != 1)
        return s.certificate + ": not a usable PEM certificate (chain): " + openssl_error();
    if (SSL_CTX_use_PrivateKey_file(native, s.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            return s.private_key + ": not the key of the certificate in " + s.certificate;
        }
        return s.private_key + ": not a usable PEM private key: " + openssl_error();
    }
    if (SSL_CTX_check_private_key(native) != 1)
        return s.private_key + ": not the key of the certificate in " + s.certificate;
    SSL_CTX_set_alpn_select_cb(native, select_http11, nullptr);
    ERR_clear_error();
    return ctx;
}

boost::system::result<std::unique_ptr<tls_contexts>, std::string> tls_contexts::open(const tls_settings& settings) {
    auto ctx = load(settings);
    if (!ctx) return ctx.error();
    std::unique_ptr<tls_contexts> t(new tls_contexts(settings));
    t->current_ = std::move(*ctx);
    return t;
}

std::shared_ptr<ssl::context> tls_contexts::current() const {
    std::lock_guard lock(mutex_);
    return current_;
}

std::string tls_contexts::reload() {
    auto ctx = load(settings_);
    if (!ctx) return ctx.error();
    std::lock_guard lock(mutex_);
    current_ = std::move(*ctx);
    return {};
}

}  // namespace toolhost::serve::detail
