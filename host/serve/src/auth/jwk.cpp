#include "jwk.hpp"

#include "base64url.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <set>

namespace toolhost::serve::auth {

namespace json = boost::json;

struct public_key::evp {
    EVP_PKEY* pkey;
    explicit evp(EVP_PKEY* k) noexcept : pkey(k) {}
    ~evp() { EVP_PKEY_free(pkey); }
    evp(const evp&) = delete;
    evp& operator=(const evp&) = delete;
};

namespace {

// A JWK Set with more keys than this is refused: a key costs a parse and an OpenSSL import.
constexpr std::size_t max_keys = 100;

template <class T, void (*Free)(T*)>
struct openssl_deleter {
    void operator()(T* p) const noexcept { Free(p); }
};
using bignum = std::unique_ptr<BIGNUM, openssl_deleter<BIGNUM, BN_free>>;
using param_builder = std::unique_ptr<OSSL_PARAM_BLD, openssl_deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using params = std::unique_ptr<OSSL_PARAM, openssl_deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using pkey_context = std::unique_ptr<EVP_PKEY_CTX, openssl_deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using pkey = std::unique_ptr<EVP_PKEY, openssl_deleter<EVP_PKEY, EVP_PKEY_free>>;
using md_context = std::unique_ptr<EVP_MD_CTX, openssl_deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using ecdsa_signature = std::unique_ptr<ECDSA_SIG, openssl_deleter<ECDSA_SIG, ECDSA_SIG_free>>;

const unsigned char* bytes(std::string_view s) noexcept { return reinterpret_cast<const unsigned char*>(s.data()); }

bignum to_bignum(std::string_view big_endian) {
    return bignum(BN_bin2bn(bytes(big_endian), static_cast<int>(big_endian.size()), nullptr));
}

// A public key from OpenSSL parameters ("RSA" or "EC"); null when OpenSSL refuses them.
pkey from_params(const char* type, OSSL_PARAM_BLD* bld) {
    params p(OSSL_PARAM_BLD_to_param(bld));
    pkey_context ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
    EVP_PKEY* out = nullptr;
    if (!p || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
        EVP_PKEY_fromdata(ctx.get(), &out, EVP_PKEY_PUBLIC_KEY, p.get()) != 1)
        return nullptr;
    return pkey(out);
}

// What went wrong with a key's member, or the member's decoded bytes.
struct member {
    std::optional<std::string> bytes;
    std::string error;
};

member decoded(const json::object& key, std::string_view name, const std::string& at) {
    const auto* v = key.if_contains(name);
    if (v == nullptr) return {std::nullopt, at + ": \"" + std::string(name) + "\" is missing"};
    if (!v->is_string()) return {std::nullopt, at + "/" + std::string(name) + ": not a string"};
    auto b = base64url_decode(v->get_string());
    if (!b || b->empty()) return {std::nullopt, at + "/" + std::string(name) + ": not base64url"};
    return {std::move(b), {}};
}

using key_result = boost::system::result<pkey, std::string>;

key_result rsa_key(const json::object& key, const std::string& at) {
    auto n = decoded(key, "n", at);
    if (!n.bytes) return n.error;
    auto e = decoded(key, "e", at);
    if (!e.bytes) return e.error;
    bignum bn_n = to_bignum(*n.bytes), bn_e = to_bignum(*e.bytes);
    param_builder bld(OSSL_PARAM_BLD_new());
    if (!bn_n || !bn_e || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get()) != 1)
        return at + ": OpenSSL could not hold the RSA key";
    if (BN_num_bits(bn_n.get()) < 2048)
        return at + "/n: an RSA key of " + std::to_string(BN_num_bits(bn_n.get())) + " bits (2048 at least)";
    if (!BN_is_odd(bn_e.get()) || BN_num_bits(bn_e.get()) < 2 || BN_num_bits(bn_e.get()) > 32)
        return at + "/e: not a usable RSA public exponent";
    auto k = from_params("RSA", bld.get());
    if (!k) return at + ": OpenSSL refused the RSA key";
    return k;
}

key_result ec_key(const json::object& key, const std::string& at) {
    auto x = decoded(key, "x", at);
    if (!x.bytes) return x.error;
    auto y = decoded(key, "y", at);
    if (!y.bytes) return y.error;
    // RFC 7518 §6.2.1.2: the full 32 bytes each, leading zeros kept.
    if (x.bytes->size() != 32) return at + "/x: not 32 bytes (a P-256 coordinate)";
    if (y.bytes->size() != 32) return at + "/y: not 32 bytes (a P-256 coordinate)";
    const std::string point = '\x04' + *x.bytes + *y.bytes;  // uncompressed
    param_builder bld(OSSL_PARAM_BLD_new());
    if (!bld || OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) != 1 ||
        OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()) != 1)
        return at + ": OpenSSL could not hold the EC key";
    auto k = from_params("EC", bld.get());
    if (!k) return at + ": not a point on P-256";
    pkey_context check(EVP_PKEY_CTX_new_from_pkey(nullptr, k.get(), nullptr));
    if (!check || EVP_PKEY_public_check(check.get()) != 1) return at + ": not a point on P-256";
    return k;
}

key_result ed25519_key(const json::object& key, const std::string& at) {
    auto x = decoded(key, "x", at);
    if (!x.bytes) return x.error;
    if (x.bytes->size() != 32) return at + "/x: not 32 bytes (an Ed25519 public key)";
    pkey k(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, bytes(*x.bytes), x.bytes->size()));
    if (!k) return at + ": OpenSSL refused the Ed25519 key";
    return k;
}

std::string_view string_member(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    return v != nullptr && v->is_string() ? std::string_view(v->get_string()) : std::string_view();
}

}  // namespace

std::optional<jws_alg> parse_alg(std::string_view name) noexcept {
    if (name == "RS256") return jws_alg::rs256;
    if (name == "ES256") return jws_alg::es256;
    if (name == "EdDSA") return jws_alg::eddsa;
    return std::nullopt;
}

std::string_view alg_name(jws_alg alg) noexcept {
    switch (alg) {
    case jws_alg::rs256: return "RS256";
    case jws_alg::es256: return "ES256";
    case jws_alg::eddsa: return "EdDSA";
    }
    return "?";
}

bool public_key::verify(std::string_view signing_input, std::string_view signature) const noexcept {
    if (!key_) return false;
    std::string der;  // ES256: JWS carries r||s, OpenSSL wants DER
    std::string_view sig = signature;
    if (alg_ == jws_alg::es256) {
        if (signature.size() != 64) return false;
        ecdsa_signature s(ECDSA_SIG_new());
        bignum r = to_bignum(signature.substr(0, 32)), ss = to_bignum(signature.substr(32));
        if (!s || !r || !ss || ECDSA_SIG_set0(s.get(), r.get(), ss.get()) != 1) return false;
        (void)r.release();  // owned by s now
        (void)ss.release();
        const int len = i2d_ECDSA_SIG(s.get(), nullptr);
        if (len <= 0) return false;
        der.resize(static_cast<std::size_t>(len));
        auto* p = reinterpret_cast<unsigned char*>(der.data());
        if (i2d_ECDSA_SIG(s.get(), &p) != len) return false;
        sig = der;
    }
    md_context md(EVP_MD_CTX_new());
    const EVP_MD* digest = alg_ == jws_alg::eddsa ? nullptr : EVP_sha256();
    const bool ok = md && EVP_DigestVerifyInit(md.get(), nullptr, digest, nullptr, key_->pkey) == 1 &&
                    EVP_DigestVerify(md.get(), bytes(sig), sig.size(), bytes(signing_input), signing_input.size()) == 1;
    ERR_clear_error();  // a failed verification leaves an error on this thread's queue
    return ok;
}

boost::system::result<key_set, std::string> key_set::parse(std::string_view json_text) {
    json::parse_options opts;
    opts.max_depth = 8;
    boost::system::error_code ec;
    const json::value doc = json::parse(json_text, ec, {}, opts);
    if (ec) return std::string("not JSON: ") + ec.message();
    const auto* keys = doc.is_object() ? doc.get_object().if_contains("keys") : nullptr;
    if (keys == nullptr || !keys->is_array()) return std::string("/keys: a JWK Set needs an array \"keys\"");
    if (keys->get_array().size() > max_keys)
        return "/keys: " + std::to_string(keys->get_array().size()) + " keys (at most " + std::to_string(max_keys) +
               ")";
    key_set out;
    std::set<std::string, std::less<>> kids;
    std::size_t i = 0;
    for (const auto& k : keys->get_array()) {
        const std::string at = "/keys/" + std::to_string(i++);
        if (!k.is_object()) return at + ": not an object";
        const auto& o = k.get_object();
        const auto kty = string_member(o, "kty");
        const auto crv = string_member(o, "crv");
        const auto use = string_member(o, "use");
        const auto alg_text = string_member(o, "alg");
        std::optional<jws_alg> alg;
        if (kty == "RSA")
            alg = jws_alg::rs256;
        else if (kty == "EC" && crv == "P-256")
            alg = jws_alg::es256;
        else if (kty == "OKP" && crv == "Ed25519")
            alg = jws_alg::eddsa;
        std::string why;
        if (!alg)
            why = "kty \"" + std::string(kty) + "\"" + (crv.empty() ? "" : " crv \"" + std::string(crv) + "\"") +
                  " is not used for signatures here";
        else if (!use.empty() && use != "sig")
            why = "\"use\": \"" + std::string(use) + "\" (not \"sig\")";
        else if (!alg_text.empty() && parse_alg(alg_text) != alg)
            why = "\"alg\": \"" + std::string(alg_text) + "\" is not verified here";
        if (const auto* ops = o.if_contains("key_ops"); why.empty() && ops != nullptr) {
            bool verify = false;
            if (ops->is_array())
                for (const auto& op : ops->get_array())
                    verify = verify || (op.is_string() && op.get_string() == "verify");
            if (!verify) why = "\"key_ops\" does not allow \"verify\"";
        }
        if (!why.empty()) {
            out.skipped_.push_back(at + ": " + why);
            continue;
        }
        const auto* kid = o.if_contains("kid");
        if (kid != nullptr && !kid->is_string()) return at + "/kid: not a string";
        public_key key;
        key.alg_ = *alg;
        if (kid != nullptr) {
            key.kid_ = std::string(kid->get_string());
            if (!kids.insert(key.kid_).second) return at + "/kid: \"" + key.kid_ + "\" names two keys";
        }
        auto made = *alg == jws_alg::rs256   ? rsa_key(o, at)
                    : *alg == jws_alg::es256 ? ec_key(o, at)
                                             : ed25519_key(o, at);
        ERR_clear_error();
        if (!made) return made.error();
        key.key_ = std::make_shared<const public_key::evp>(made->release());
        out.keys_.push_back(std::move(key));
    }
    return out;
}

std::vector<const public_key*> key_set::candidates(std::optional<std::string_view> kid, jws_alg alg) const {
    std::vector<const public_key*> out;
    for (const auto& k : keys_)
        if (k.alg() == alg && (!kid || k.kid() == *kid)) out.push_back(&k);
    return out;
}

bool key_set::has_kid(std::string_view kid) const noexcept {
    for (const auto& k : keys_)
        if (k.kid() == kid) return true;
    return false;
}

}  // namespace toolhost::serve::auth
