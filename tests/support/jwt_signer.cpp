#include "jwt_signer.hpp"

#include <boost/json/serialize.hpp>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace toolhost::test {
namespace json = boost::json;

namespace {

EVP_PKEY* pkey(const std::shared_ptr<void>& p) { return static_cast<EVP_PKEY*>(p.get()); }

std::shared_ptr<void> own(EVP_PKEY* k) {
    if (k == nullptr) throw std::runtime_error("OpenSSL could not make the key");
    return std::shared_ptr<void>(k, [](void* p) { EVP_PKEY_free(static_cast<EVP_PKEY*>(p)); });
}

std::string big_endian(EVP_PKEY* k, const char* name, int pad = 0) {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(k, name, &bn) != 1) throw std::runtime_error("OpenSSL: no key parameter");
    std::string out(static_cast<std::size_t>(pad > 0 ? pad : BN_num_bytes(bn)), '\0');
    BN_bn2binpad(bn, reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(out.size()));
    BN_free(bn);
    return out;
}

}  // namespace

std::string base64url(std::string_view bytes) {
    static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    std::string out;
    std::size_t i = 0;
    const auto byte = [&](std::size_t j) { return static_cast<unsigned>(static_cast<unsigned char>(bytes[j])); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        for (int s = 18; s >= 0; s -= 6) out += alphabet[(v >> s) & 63];
    }
    if (bytes.size() - i == 1) {
        const unsigned v = byte(i) << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
    } else if (bytes.size() - i == 2) {
        const unsigned v = byte(i) << 16 | byte(i + 1) << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
    }
    return out;
}

signing_key signing_key::rsa(std::string kid, int bits) {
    signing_key k;
    k.key_ = own(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(bits)));
    k.kid_ = std::move(kid);
    k.alg_ = "RS256";
    return k;
}

signing_key signing_key::ec_p256(std::string kid) {
    signing_key k;
    k.key_ = own(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    k.kid_ = std::move(kid);
    k.alg_ = "ES256";
    return k;
}

signing_key signing_key::ed25519(std::string kid) {
    signing_key k;
    k.key_ = own(EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"));
    k.kid_ = std::move(kid);
    k.alg_ = "EdDSA";
    return k;
}

json::object signing_key::jwk(bool with_alg_and_use) const {
    json::object o;
    EVP_PKEY* k = pkey(key_);
    if (alg_ == "RS256") {
        o["kty"] = "RSA";
        o["n"] = base64url(big_endian(k, OSSL_PKEY_PARAM_RSA_N));
        o["e"] = base64url(big_endian(k, OSSL_PKEY_PARAM_RSA_E));
    } else if (alg_ == "ES256") {
        o["kty"] = "EC";
        o["crv"] = "P-256";
        o["x"] = base64url(big_endian(k, OSSL_PKEY_PARAM_EC_PUB_X, 32));
        o["y"] = base64url(big_endian(k, OSSL_PKEY_PARAM_EC_PUB_Y, 32));
    } else {
        o["kty"] = "OKP";
        o["crv"] = "Ed25519";
        std::string raw(32, '\0');
        size_t len = raw.size();
        EVP_PKEY_get_raw_public_key(k, reinterpret_cast<unsigned char*>(raw.data()), &len);
        o["x"] = base64url(raw.substr(0, len));
    }
    if (!kid_.empty()) o["kid"] = kid_;
    if (with_alg_and_use) {
        o["alg"] = alg_;
        o["use"] = "sig";
    }
    return o;
}

std::string signing_key::signature(std::string_view input) const {
    EVP_MD_CTX* md = EVP_MD_CTX_new();
    const EVP_MD* digest = alg_ == "EdDSA" ? nullptr : EVP_sha256();
    size_t len = 0;
    std::string sig;
    const auto* in = reinterpret_cast<const unsigned char*>(input.data());
    if (EVP_DigestSignInit(md, nullptr, digest, nullptr, pkey(key_)) != 1 ||
        EVP_DigestSign(md, nullptr, &len, in, input.size()) != 1)
        throw std::runtime_error("OpenSSL could not sign");
    sig.resize(len);
    if (EVP_DigestSign(md, reinterpret_cast<unsigned char*>(sig.data()), &len, in, input.size()) != 1)
        throw std::runtime_error("OpenSSL could not sign");
    sig.resize(len);
    EVP_MD_CTX_free(md);
    if (alg_ != "ES256") return sig;
    // DER to r||s, 32 bytes each.
    const auto* p = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(s), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(s);
    return raw;
}

std::string signing_key::sign(const json::object& claims, const json::object& header) const {
    json::object h{{"alg", alg_}, {"typ", "at+jwt"}};
    if (!kid_.empty()) h["kid"] = kid_;
    for (const auto& [k, v] : header) {
        if (v.is_null())
            h.erase(k);
        else
            h[k] = v;
    }
    const std::string input = base64url(json::serialize(h)) + "." + base64url(json::serialize(claims));
    return input + "." + base64url(signature(input));
}

std::string jwks(const std::vector<signing_key>& keys) {
    json::array a;
    for (const auto& k : keys) a.emplace_back(k.jwk());
    return json::serialize(json::object{{"keys", std::move(a)}});
}

}  // namespace toolhost::test
