#include "jwt.hpp"

#include "base64url.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <cmath>
#include <optional>

namespace toolhost::serve::auth {

namespace json = boost::json;

namespace {

token_failure fail(token_problem p, std::string message) { return {p, std::move(message)}; }

std::optional<json::object> json_object(std::string_view text) {
    json::parse_options opts;
    opts.max_depth = 16;
    boost::system::error_code ec;
    json::value v = json::parse(text, ec, {}, opts);
    if (ec || !v.is_object()) return std::nullopt;
    return std::move(v.get_object());
}

// A NumericDate (seconds since the epoch; JSON allows a fraction).
std::optional<int64_t> numeric_date(const json::value& v) {
    if (v.is_int64()) return v.get_int64();
    if (v.is_uint64())
        return v.get_uint64() > static_cast<uint64_t>(INT64_MAX)
                   ? std::nullopt
                   : std::optional<int64_t>(static_cast<int64_t>(v.get_uint64()));
    if (v.is_double() && std::isfinite(v.get_double()) && std::abs(v.get_double()) < 9.2e18)
        return static_cast<int64_t>(std::floor(v.get_double()));
    return std::nullopt;
}

void add_scopes(std::string_view text, std::vector<std::string>& out) {
    while (!text.empty()) {
        const auto sp = text.find(' ');
        const auto word = text.substr(0, sp);
        if (!word.empty()) out.emplace_back(word);
        if (sp == std::string_view::npos) break;
        text.remove_prefix(sp + 1);
    }
}

}  // namespace

bool token_claims::has_scope(std::string_view scope) const noexcept {
    return std::binary_search(scopes.begin(), scopes.end(), scope, std::less<>());
}

token_result verify_token(std::string_view token, const key_set& keys, const token_expectations& expect,
                          std::chrono::system_clock::time_point now) {
    using enum token_problem;
    if (token.size() > expect.max_token_bytes)
        return fail(malformed, "the token is " + std::to_string(token.size()) + " bytes (at most " +
                                   std::to_string(expect.max_token_bytes) + ")");
    const auto dot1 = token.find('.');
    const auto dot2 = dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
    if (dot2 == std::string_view::npos) return fail(malformed, "not a JWT (three parts separated by dots)");
    if (token.find('.', dot2 + 1) != std::string_view::npos)
        return fail(malformed, "not a signed JWT (encrypted tokens are not accepted)");
    const auto header_text = base64url_decode(token.substr(0, dot1));
    const auto claims_text = base64url_decode(token.substr(dot1 + 1, dot2 - dot1 - 1));
    const auto signature = base64url_decode(token.substr(dot2 + 1));
    if (!header_text || !claims_text || !signature) return fail(malformed, "a part of the token is not base64url");
    const auto header = json_object(*header_text);
    if (!header) return fail(malformed, "the token's header is not a JSON object");

    const auto* alg_v = header->if_contains("alg");
    const std::string_view alg_text = alg_v && alg_v->is_string() ? std::string_view(alg_v->get_string()) : "";
    const auto alg = parse_alg(alg_text);
    if (!alg || std::find(expect.algorithms.begin(), expect.algorithms.end(), *alg) == expect.algorithms.end())
        return fail(unsupported_algorithm, "the token's algorithm \"" + std::string(alg_text) + "\" is not accepted");
    if (header->contains("crit"))
        return fail(malformed, "the token's header has \"crit\" extensions, not understood here");
    std::optional<std::string_view> kid;
    if (const auto* k = header->if_contains("kid")) {
        if (!k->is_string()) return fail(malformed, "the token's \"kid\" is not a string");
        kid = k->get_string();
    }
    const auto candidates = keys.candidates(kid, *alg);
    if (candidates.empty())
        return fail(unknown_key, kid ? "no " + std::string(alg_text) + " key with kid \"" + std::string(*kid) + "\""
                                     : "no " + std::string(alg_text) + " key");
    const std::string_view signing_input = token.substr(0, dot2);
    if (std::none_of(candidates.begin(), candidates.end(),
                     [&](const public_key* k) { return k->verify(signing_input, *signature); }))
        return fail(bad_signature, "the token's signature does not verify");

    // Signed by a trusted key: now the claims mean something.
    const auto claims = json_object(*claims_text);
    if (!claims) return fail(malformed, "the token's claims are not a JSON object");
    token_claims out;
    const auto str = [&](std::string_view name) -> std::string {
        const auto* v = claims->if_contains(name);
        return v && v->is_string() ? std::string(v->get_string()) : std::string();
    };
    out.issuer = str("iss");
    if (out.issuer != expect.issuer) return fail(wrong_issuer, "the token was issued by \"" + out.issuer + "\"");
    bool audience = false;
    if (const auto* aud = claims->if_contains("aud")) {
        const auto matches = [&](const json::value& a) {
            return a.is_string() && std::find(expect.audiences.begin(), expect.audiences.end(),
                                              std::string_view(a.get_string())) != expect.audiences.end();
        };
        if (aud->is_array())
            audience = std::any_of(aud->get_array().begin(), aud->get_array().end(), matches);
        else
            audience = matches(*aud);
    }
    if (!audience) return fail(wrong_audience, "the token is not meant for this resource (\"aud\")");
    const int64_t t = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    const int64_t leeway = expect.leeway.count();
    const auto* exp = claims->if_contains("exp");
    const auto exp_at = exp ? numeric_date(*exp) : std::nullopt;
    if (!exp_at) return fail(malformed, "the token has no valid \"exp\"");
    if (t >= *exp_at + leeway) return fail(expired, "the token expired");
    if (const auto* nbf = claims->if_contains("nbf")) {
        const auto at = numeric_date(*nbf);
        if (!at) return fail(malformed, "the token's \"nbf\" is not a time");
        if (t + leeway < *at) return fail(not_yet_valid, "the token is not valid yet");
    }
    out.expires_at = *exp_at;
    out.subject = str("sub");
    out.client_id = str("client_id");
    if (out.client_id.empty()) out.client_id = str("azp");
    if (const auto* s = claims->if_contains("scope"); s && s->is_string()) add_scopes(s->get_string(), out.scopes);
    if (const auto* s = claims->if_contains("scp")) {
        if (s->is_string()) add_scopes(s->get_string(), out.scopes);
        if (s->is_array())
            for (const auto& e : s->get_array())
                if (e.is_string()) out.scopes.emplace_back(e.get_string());
    }
    std::sort(out.scopes.begin(), out.scopes.end());
    out.scopes.erase(std::unique(out.scopes.begin(), out.scopes.end()), out.scopes.end());
    return out;
}

}  // namespace toolhost::serve::auth
