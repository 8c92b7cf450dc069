#pragma once
// The public keys that sign access tokens: a JWK Set (RFC 7517) as an authorization server
// publishes it, reduced to the keys this server verifies with. Three algorithms, each bound to
// one kind of key so that a token cannot pick how its key is read (no "alg confusion"):
// RS256 (RSA, at least 2048 bits), ES256 (EC P-256) and EdDSA (Ed25519).

#include <boost/system/result.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::serve::auth {

enum class jws_alg { rs256, es256, eddsa };

/// "RS256", "ES256" or "EdDSA" (case-sensitive, as JOSE names them); nullopt for any other.
std::optional<jws_alg> parse_alg(std::string_view name) noexcept;
std::string_view alg_name(jws_alg alg) noexcept;

/// One verification key. Copies share the OpenSSL key.
class public_key {
public:
    /// Whether `signature` (as a JWS carries it: PKCS#1 v1.5 for RS256, r||s for ES256) signs
    /// `signing_input` under this key. Never throws; any OpenSSL failure is "no".
    bool verify(std::string_view signing_input, std::string_view signature) const noexcept;

    jws_alg alg() const noexcept { return alg_; }
    const std::string& kid() const noexcept { return kid_; }

private:
    friend class key_set;
    struct evp;
    jws_alg alg_ = jws_alg::rs256;
    std::string kid_;
    std::shared_ptr<const evp> key_;
};

class key_set {
public:
    /// Reads a JWK Set document ({"keys": [...]}). Keys of other kinds (symmetric "oct", other
    /// curves, "use": "enc") are left out and listed in skipped(); a key of a kind this server
    /// uses but malformed is an error naming it ("/keys/1/n: not base64url"), as is an RSA key
    /// under 2048 bits, a point not on the curve, or two keys with one "kid".
    static boost::system::result<key_set, std::string> parse(std::string_view json_text);

    /// The keys a token signed with `alg` may be checked against: the one named `kid` (if it
    /// verifies `alg`), or without a kid every key for `alg`.
    std::vector<const public_key*> candidates(std::optional<std::string_view> kid, jws_alg alg) const;
    bool has_kid(std::string_view kid) const noexcept;

    std::size_t size() const noexcept { return keys_.size(); }
    const std::vector<public_key>& keys() const noexcept { return keys_; }
    /// "/keys/2: kty \"oct\" is not used for signatures here", one line per key left out.
    const std::vector<std::string>& skipped() const noexcept { return skipped_; }

private:
    std::vector<public_key> keys_;
    std::vector<std::string> skipped_;
};

}  // namespace toolhost::serve::auth
