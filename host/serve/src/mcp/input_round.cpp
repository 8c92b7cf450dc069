#include "input_round.hpp"

#include "auth/base64url.hpp"

#include <toolhost/json_text.hpp>

#include <boost/json/parse.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <stdexcept>

namespace toolhost::mcp {

namespace json = boost::json;

namespace {

std::string hex(const unsigned char* p, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    s.reserve(2 * n);
    for (std::size_t i = 0; i < n; ++i) {
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

std::string sha256_hex(std::string_view text) {
    unsigned char d[SHA256_DIGEST_LENGTH];
    SHA256(reinterpret_cast<const unsigned char*>(text.data()), text.size(), d);
    return hex(d, sizeof d);
}

std::string mac(const state_key& key, std::string_view payload) {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
             reinterpret_cast<const unsigned char*>(payload.data()), payload.size(), out, &len) == nullptr)
        throw std::runtime_error("HMAC-SHA256 failed");
    return std::string(reinterpret_cast<const char*>(out), len);
}

int64_t millis(std::chrono::system_clock::time_point t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

state_key make_state_key(std::string_view secret) {
    state_key k{};
    if (!secret.empty()) {
        SHA256(reinterpret_cast<const unsigned char*>(secret.data()), secret.size(), k.data());
    } else if (RAND_bytes(k.data(), static_cast<int>(k.size())) != 1) {
        throw std::runtime_error("no random bytes for the requestState key");
    }
    return k;
}

std::string ask_key(std::string_view method, std::string_view params) {
    std::string text(method);
    text += '\n';
    text += params;
    return "ask-" + sha256_hex(text).substr(0, 16);
}

std::string encode_request_state(const state_key& key, const json::object& answers, std::string_view tool,
                                 std::string_view arguments, std::chrono::system_clock::time_point now,
                                 std::chrono::seconds ttl) {
    const json::object payload{{"t", tool}, {"a", sha256_hex(arguments)}, {"e", millis(now + ttl)}, {"r", answers}};
    const std::string body = serve::auth::base64url_encode(toolhost::json_text(payload));
    return "v1." + body + "." + serve::auth::base64url_encode(mac(key, body));
}

std::optional<json::object> decode_request_state(const state_key& key, std::string_view state, std::string_view tool,
                                                 std::string_view arguments, std::chrono::system_clock::time_point now,
                                                 std::string& why) {
    why = "not a requestState of this server";
    if (!state.starts_with("v1.")) return std::nullopt;
    state.remove_prefix(3);
    const auto dot = state.find('.');
    if (dot == std::string_view::npos) return std::nullopt;
    const std::string_view body = state.substr(0, dot);
    const auto given = serve::auth::base64url_decode(state.substr(dot + 1));
    const std::string expected = mac(key, body);
    if (!given || given->size() != expected.size() ||
        CRYPTO_memcmp(given->data(), expected.data(), expected.size()) != 0)
        return std::nullopt;
    const auto text = serve::auth::base64url_decode(body);
    boost::system::error_code ec;
    const json::value v = text ? json::parse(*text, ec) : json::value();
    const json::object* p = !ec ? v.if_object() : nullptr;
    const json::value* t = p ? p->if_contains("t") : nullptr;
    const json::value* a = p ? p->if_contains("a") : nullptr;
    const json::value* e = p ? p->if_contains("e") : nullptr;
    const json::value* r = p ? p->if_contains("r") : nullptr;
    if (!t || !t->is_string() || !a || !a->is_string() || !e || !e->is_int64() || !r || !r->is_object())
        return std::nullopt;
    if (e->get_int64() < millis(now)) {
        why = "the requestState has expired; call the tool again without it";
        return std::nullopt;
    }
    if (t->get_string() != tool || a->get_string() != sha256_hex(arguments)) {
        why = "the requestState belongs to another call (another tool or other arguments)";
        return std::nullopt;
    }
    return r->get_object();
}

}  // namespace toolhost::mcp
