#pragma once
// Signing keys and access tokens made by the test, with OpenSSL: what an authorization server
// would publish (a JWK) and hand out (a signed JWT), so that tests of the resource server use
// real keys and real signatures.
//
//     auto key = toolhost::test::signing_key::ec_p256("k1");
//     write_file(dir / "jwks.json", toolhost::test::jwks({key}));
//     std::string token = key.sign({{"iss", "https://as.example"}, {"aud", "https://rs/mcp"}, {"exp", now + 60}});

#include <boost/json/object.hpp>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::test {

std::string base64url(std::string_view bytes);

class signing_key {
public:
    static signing_key rsa(std::string kid, int bits = 2048);
    static signing_key ec_p256(std::string kid);
    static signing_key ed25519(std::string kid);

    const std::string& kid() const noexcept { return kid_; }
    /// "RS256", "ES256" or "EdDSA".
    const std::string& alg() const noexcept { return alg_; }
    /// The public key as a JWK, with "kid" (and "alg", "use" when asked).
    boost::json::object jwk(bool with_alg_and_use = false) const;
    /// The JWS signature of `input` as JOSE carries it (ES256: r||s).
    std::string signature(std::string_view input) const;
    /// A compact JWT of `claims`; the header is {"alg", "kid", "typ": "at+jwt"} merged with `header`
    /// (whose entries win; a null value removes an entry).
    std::string sign(const boost::json::object& claims, const boost::json::object& header = {}) const;

private:
    std::shared_ptr<void> key_;  // EVP_PKEY
    std::string kid_;
    std::string alg_;
};

/// {"keys": [each key's jwk]}, serialized.
std::string jwks(const std::vector<signing_key>& keys);

}  // namespace toolhost::test
