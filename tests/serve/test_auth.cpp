// The OAuth 2.1 resource server's parts (host/serve/src/auth): base64url, JWK Sets, JWT checks
// and the authenticator, with keys and tokens made by the test (OpenSSL) and key sets served by
// a real HTTP server on loopback. Through the real `toolhost serve`: test_serve_http.
#define BOOST_TEST_MODULE auth
#include <boost/test/unit_test.hpp>

#include "auth/authenticator.hpp"
#include "auth/base64url.hpp"
#include "auth/fetch.hpp"
#include "auth/jwk.hpp"
#include "auth/jwt.hpp"
#include "http_server.hpp"
#include "jwt_signer.hpp"
#include "test_support.hpp"
#include "tls_files.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace json = boost::json;
namespace auth = toolhost::serve::auth;
using auth::token_problem;
using toolhost::test::base64url;
using toolhost::test::signing_key;
using toolhost::test::temp_dir;
using namespace std::chrono;

namespace {

const system_clock::time_point now = system_clock::time_point(seconds(1'800'000'000));
const int64_t now_s = 1'800'000'000;
const std::string issuer = "https://as.example.com";
const std::string resource = "https://tools.example.com/mcp";

// The keys every test uses; RSA keys take a while to make, so once.
const signing_key& rsa() {
    static const signing_key k = signing_key::rsa("rsa-1");
    return k;
}
const signing_key& ec() {
    static const signing_key k = signing_key::ec_p256("ec-1");
    return k;
}
const signing_key& ed() {
    static const signing_key k = signing_key::ed25519("ed-1");
    return k;
}

json::object claims(json::object extra = {}) {
    json::object c{{"iss", issuer}, {"aud", resource}, {"sub", "user-7"}, {"exp", now_s + 300}, {"iat", now_s}};
    for (const auto& [k, v] : extra) {
        if (v.is_null())
            c.erase(k);
        else
            c[k] = v;
    }
    return c;
}

auth::key_set keys_of(const std::vector<signing_key>& keys) {
    auto set = auth::key_set::parse(toolhost::test::jwks(keys));
    if (!set) BOOST_FAIL(set.error());
    return std::move(*set);
}

auth::token_expectations expectations() {
    auth::token_expectations e;
    e.issuer = issuer;
    e.audiences = {resource};
    return e;
}

auth::token_result check(const std::string& token, const auth::key_set& keys, system_clock::time_point at = now) {
    return auth::verify_token(token, keys, expectations(), at);
}

token_problem problem(const auth::token_result& r) {
    BOOST_REQUIRE_MESSAGE(r.has_error(), "the token was accepted");
    return r.error().problem;
}

std::string parse_error(const std::string& text) {
    auto r = auth::key_set::parse(text);
    BOOST_REQUIRE_MESSAGE(r.has_error(), "the key set was accepted: " + text);
    return r.error();
}

}  // namespace

namespace toolhost::serve::auth {
std::ostream& operator<<(std::ostream& os, token_problem p) { return os << static_cast<int>(p); }
}  // namespace toolhost::serve::auth

namespace {

using toolhost::test::contains;
using toolhost::test::write_file;

}  // namespace

// ---------------------------------------------------------------------------------- base64url

BOOST_AUTO_TEST_CASE(base64url_is_strict) {
    BOOST_TEST(*auth::base64url_decode("") == "");
    BOOST_TEST(*auth::base64url_decode("Zg") == "f");
    BOOST_TEST(*auth::base64url_decode("Zm8") == "fo");
    BOOST_TEST(*auth::base64url_decode("Zm9v") == "foo");
    BOOST_TEST(*auth::base64url_decode("-_8") == "\xfb\xff");
    BOOST_TEST(!auth::base64url_decode("Zg=="));   // padding
    BOOST_TEST(!auth::base64url_decode("+/8"));    // the other alphabet
    BOOST_TEST(!auth::base64url_decode("Zm9vY"));  // 4n+1 characters
    BOOST_TEST(!auth::base64url_decode("Zh"));     // bits left over: "Zg" is the one encoding of "f"
    BOOST_TEST(!auth::base64url_decode("Zm 9v"));
    for (const std::string& bytes :
         std::vector<std::string>{"", "a", "ab", "abc", "abcd", std::string("\0\xff\x10", 3)})
        BOOST_TEST(*auth::base64url_decode(base64url(bytes)) == bytes);
}

// ----------------------------------------------------------------------------------- key sets

BOOST_AUTO_TEST_CASE(key_sets_hold_the_three_kinds_of_key) {
    const auto set = keys_of({rsa(), ec(), ed()});
    BOOST_TEST(set.size() == 3u);
    BOOST_TEST(set.candidates(std::string_view("ec-1"), auth::jws_alg::es256).size() == 1u);
    // A kid names a key for one algorithm only: an RS256 token cannot use the EC key.
    BOOST_TEST(set.candidates(std::string_view("ec-1"), auth::jws_alg::rs256).empty());
    BOOST_TEST(set.candidates(std::nullopt, auth::jws_alg::eddsa).size() == 1u);
    BOOST_TEST(set.has_kid("rsa-1"));
    BOOST_TEST(!set.has_kid("rsa-2"));
}

BOOST_AUTO_TEST_CASE(keys_not_for_signatures_here_are_left_out_and_named) {
    json::array keys{rsa().jwk(true), json::object{{"kty", "oct"}, {"k", "c2VjcmV0"}, {"kid", "hmac"}},
                     [] {
                         auto k = ec().jwk();
                         k["use"] = "enc";
                         return k;
                     }(),
                     [] {
                         auto k = rsa().jwk();
                         k["kid"] = "ps";
                         k["alg"] = "PS256";
                         return k;
                     }(),
                     json::object{{"kty", "OKP"}, {"crv", "X25519"}, {"x", base64url(std::string(32, 'x'))}}};
    auto set = auth::key_set::parse(json::serialize(json::object{{"keys", keys}}));
    BOOST_REQUIRE(set);
    BOOST_TEST(set->size() == 1u);
    BOOST_REQUIRE(set->skipped().size() == 4u);
    BOOST_TEST(contains(set->skipped()[0], "/keys/1: kty \"oct\""));
    BOOST_TEST(contains(set->skipped()[1], "/keys/2: \"use\": \"enc\""));
    BOOST_TEST(contains(set->skipped()[2], "/keys/3: \"alg\": \"PS256\""));
    BOOST_TEST(contains(set->skipped()[3], "crv \"X25519\""));
}

BOOST_AUTO_TEST_CASE(malformed_keys_are_named_by_their_place) {
    BOOST_TEST(contains(parse_error("{\"keys\": ["), "not JSON"));
    BOOST_TEST(contains(parse_error("{\"key\": []}"), "/keys: a JWK Set needs an array"));
    BOOST_TEST(contains(parse_error("{\"keys\": [1]}"), "/keys/0: not an object"));
    auto no_n = rsa().jwk();
    no_n.erase("n");
    BOOST_TEST(
        contains(parse_error(json::serialize(json::object{{"keys", json::array{no_n}}})), "/keys/0: \"n\" is missing"));
    auto bad_x = ec().jwk();
    bad_x["x"] = "not base64url!";
    BOOST_TEST(contains(parse_error(json::serialize(json::object{{"keys", json::array{ed().jwk(), bad_x}}})),
                        "/keys/1/x: not base64url"));
    // A point that is not on the curve (an invalid-curve attack's key) is refused.
    auto off_curve = ec().jwk();
    off_curve["y"] = base64url(std::string(31, '\0') + "\x01");
    BOOST_TEST(contains(parse_error(json::serialize(json::object{{"keys", json::array{off_curve}}})),
                        "/keys/0: not a point on P-256"));
    const auto small = signing_key::rsa("small", 1024);
    BOOST_TEST(contains(parse_error(toolhost::test::jwks({small})), "/keys/0/n: an RSA key of 1024 bits"));
    auto twice = ed().jwk();
    twice["kid"] = "ec-1";
    BOOST_TEST(contains(parse_error(json::serialize(json::object{{"keys", json::array{ec().jwk(), twice}}})),
                        "/keys/1/kid: \"ec-1\" names two keys"));
}

// ------------------------------------------------------------------------------------- tokens

BOOST_AUTO_TEST_CASE(tokens_signed_with_each_algorithm_are_accepted) {
    const auto keys = keys_of({rsa(), ec(), ed()});
    for (const auto* k : {&rsa(), &ec(), &ed()}) {
        BOOST_TEST_CONTEXT(k->alg()) {
            auto r = check(k->sign(claims({{"scope", "tools:read crm:write"}, {"client_id", "agent-1"}})), keys);
            BOOST_REQUIRE_MESSAGE(r, (r ? "" : r.error().message));
            BOOST_TEST(r->subject == "user-7");
            BOOST_TEST(r->client_id == "agent-1");
            BOOST_TEST(r->expires_at == now_s + 300);
            BOOST_TEST((r->scopes == std::vector<std::string>{"crm:write", "tools:read"}));
            BOOST_TEST(r->has_scope("crm:write"));
            BOOST_TEST(!r->has_scope("crm"));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_token_changed_after_signing_is_refused) {
    const auto keys = keys_of({rsa(), ec(), ed()});
    for (const auto* k : {&rsa(), &ec(), &ed()}) {
        BOOST_TEST_CONTEXT(k->alg()) {
            const std::string good = k->sign(claims());
            const auto dot1 = good.find('.'), dot2 = good.rfind('.');
            // The claims swapped for others (more scopes), the signature kept.
            const std::string forged =
                good.substr(0, dot1 + 1) + base64url(json::serialize(claims({{"scope", "admin"}}))) + good.substr(dot2);
            BOOST_TEST(problem(check(forged, keys)) == token_problem::bad_signature);
            // One bit of the signature flipped.
            std::string sig = *auth::base64url_decode(good.substr(dot2 + 1));
            sig[sig.size() / 2] ^= 0x01;
            BOOST_TEST(problem(check(good.substr(0, dot2 + 1) + base64url(sig), keys)) == token_problem::bad_signature);
            // Signed by another key with the same kid.
            const auto other = k->alg() == "RS256" ? signing_key::ec_p256(k->kid()) : signing_key::ed25519(k->kid());
            const auto wrong = k->alg() == "EdDSA" ? signing_key::ec_p256(k->kid()) : other;
            auto r = check(wrong.sign(claims(), {{"alg", k->alg()}}), keys);
            BOOST_TEST(problem(r) == token_problem::bad_signature);
        }
    }
}

BOOST_AUTO_TEST_CASE(algorithms_a_token_may_not_choose) {
    const auto keys = keys_of({rsa(), ec(), ed()});
    const std::string body = base64url(json::serialize(claims()));
    // alg "none": no signature at all.
    const std::string none = base64url(R"({"alg":"none"})") + "." + body + ".";
    BOOST_TEST(problem(check(none, keys)) == token_problem::unsupported_algorithm);
    // HS256 "signed" with the RSA public key as the HMAC secret (the classic confusion).
    const std::string hs = base64url(R"({"alg":"HS256","kid":"rsa-1"})") + "." + body + "." + base64url("mac");
    auto r = check(hs, keys);
    BOOST_TEST(problem(r) == token_problem::unsupported_algorithm);
    BOOST_TEST(contains(r.error().message, "\"HS256\" is not accepted"));
    // An algorithm turned off in the settings.
    auto only_ec = expectations();
    only_ec.algorithms = {auth::jws_alg::es256};
    BOOST_TEST(auth::verify_token(rsa().sign(claims()), keys, only_ec, now).error().problem ==
               token_problem::unsupported_algorithm);
}

BOOST_AUTO_TEST_CASE(malformed_tokens_are_refused_before_any_signature_check) {
    const auto keys = keys_of({ec()});
    for (const std::string bad : {"", "abc", "a.b", "a.b.c.d.e", "!!.e30.e30", ".."}) {
        BOOST_TEST_CONTEXT(bad) { BOOST_TEST(problem(check(bad, keys)) == token_problem::malformed); }
    }
    BOOST_TEST(contains(check("a.b.c.d.e", keys).error().message, "encrypted tokens"));
    const std::string header_not_object = base64url("[1]") + "." + base64url("{}") + "." + base64url("x");
    BOOST_TEST(problem(check(header_not_object, keys)) == token_problem::malformed);
    BOOST_TEST(problem(check(ec().sign(claims(), {{"crit", json::array{"exp"}}}), keys)) == token_problem::malformed);
    auto e = expectations();
    e.max_token_bytes = 100;
    auto r = auth::verify_token(ec().sign(claims()), keys, e, now);
    BOOST_TEST(contains(r.error().message, "(at most 100)"));
    // Claims that are not an object, under a good signature.
    const std::string h = base64url(R"({"alg":"ES256","kid":"ec-1"})") + "." + base64url("[]");
    BOOST_TEST(problem(check(h + "." + base64url(ec().signature(h)), keys)) == token_problem::malformed);
}

BOOST_AUTO_TEST_CASE(keys_are_found_by_kid_or_tried_in_turn) {
    const auto keys = keys_of({rsa(), ec()});
    auto r = check(ec().sign(claims(), {{"kid", nullptr}}), keys);  // no kid: every ES256 key is tried
    BOOST_TEST(r.has_value());
    r = check(ec().sign(claims(), {{"kid", "ec-9"}}), keys);
    BOOST_TEST(problem(r) == token_problem::unknown_key);
    BOOST_TEST(contains(r.error().message, "kid \"ec-9\""));
    BOOST_TEST(problem(check(ed().sign(claims()), keys)) == token_problem::unknown_key);
}

BOOST_AUTO_TEST_CASE(claims_are_checked_after_the_signature) {
    const auto keys = keys_of({ec()});
    BOOST_TEST(problem(check(ec().sign(claims({{"iss", "https://evil.example"}})), keys)) ==
               token_problem::wrong_issuer);
    BOOST_TEST(problem(check(ec().sign(claims({{"iss", nullptr}})), keys)) == token_problem::wrong_issuer);
    BOOST_TEST(problem(check(ec().sign(claims({{"aud", "https://other.example/mcp"}})), keys)) ==
               token_problem::wrong_audience);
    BOOST_TEST(problem(check(ec().sign(claims({{"aud", nullptr}})), keys)) == token_problem::wrong_audience);
    BOOST_TEST(check(ec().sign(claims({{"aud", json::array{"https://a.example", resource}}})), keys).has_value());
    BOOST_TEST(problem(check(ec().sign(claims({{"exp", nullptr}})), keys)) == token_problem::malformed);
    BOOST_TEST(problem(check(ec().sign(claims({{"exp", "tomorrow"}})), keys)) == token_problem::malformed);
    // exp and nbf with the leeway (60 s).
    BOOST_TEST(check(ec().sign(claims({{"exp", now_s - 59}})), keys).has_value());
    BOOST_TEST(problem(check(ec().sign(claims({{"exp", now_s - 60}})), keys)) == token_problem::expired);
    BOOST_TEST(check(ec().sign(claims({{"nbf", now_s + 60}})), keys).has_value());
    BOOST_TEST(problem(check(ec().sign(claims({{"nbf", now_s + 61}})), keys)) == token_problem::not_yet_valid);
    BOOST_TEST(check(ec().sign(claims({{"exp", double(now_s) + 0.5}})), keys).has_value());
    // "scp" as an array and as a string, merged with "scope".
    auto r = check(ec().sign(claims({{"scope", "b a"}, {"scp", json::array{"c", "a"}}})), keys);
    BOOST_TEST((r->scopes == std::vector<std::string>{"a", "b", "c"}));
    BOOST_TEST(check(ec().sign(claims({{"azp", "agent-2"}})), keys)->client_id == "agent-2");
}

// ------------------------------------------------------------------------------ authenticator

namespace {

struct oauth_fixture {
    temp_dir dir;
    std::filesystem::path jwks_file = dir / "jwks.json";
    system_clock::time_point clock = now;
    toolhost::serve_settings settings;

    oauth_fixture() {
        write_file(jwks_file, toolhost::test::jwks({ec(), ed()}));
        settings.oauth.resource = resource;
        settings.oauth.authorization_servers = {issuer};
        settings.oauth.issuer = issuer;
        settings.oauth.jwks_file = jwks_file.string();
        settings.oauth.required_scopes = {"tools"};
        settings.oauth.scopes = {{"crm", {"crm:read"}}, {"crm.upsert", {"crm:write"}}};
        settings.oauth.scopes_supported = {"tools", "crm:read", "crm:write"};
    }
    std::unique_ptr<auth::authenticator> make() {
        auto a = auth::authenticator::create(settings, [this] { return clock; });
        if (!a) BOOST_FAIL(a.error());
        return std::move(*a);
    }
};

auth::challenge refused(const std::variant<auth::principal, auth::challenge>& v) {
    BOOST_REQUIRE_MESSAGE(std::holds_alternative<auth::challenge>(v), "the request was let through");
    return std::get<auth::challenge>(v);
}
auth::principal let_in(const std::variant<auth::principal, auth::challenge>& v) {
    if (auto* c = std::get_if<auth::challenge>(&v)) BOOST_FAIL("refused: " + c->message);
    return std::get<auth::principal>(v);
}

}  // namespace

BOOST_FIXTURE_TEST_CASE(requests_without_a_valid_token_are_told_where_to_get_one, oauth_fixture) {
    auto a = make();
    BOOST_TEST(a->required());
    const std::string metadata =
        "resource_metadata=\"https://tools.example.com/.well-known/oauth-protected-resource/mcp\"";
    for (const std::string header : {"", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   "}) {
        const auto& c = refused(a->authenticate(header));
        BOOST_TEST(c.status == 401u);
        BOOST_TEST(c.www_authenticate == "Bearer " + metadata + ", scope=\"tools\"");
    }
    const auto& bad = refused(a->authenticate("Bearer not.a.jwt"));
    BOOST_TEST(bad.status == 401u);
    BOOST_TEST(contains(bad.www_authenticate, "error=\"invalid_token\""));
    BOOST_TEST(contains(bad.www_authenticate, metadata));
    const auto& expired = refused(a->authenticate("Bearer " + ec().sign(claims({{"exp", now_s - 3600}}))));
    BOOST_TEST(contains(expired.www_authenticate, "error_description=\"the token expired\""));
}

BOOST_FIXTURE_TEST_CASE(scopes_are_required_per_request_and_per_tool, oauth_fixture) {
    auto a = make();
    // Without the scope every request needs: 403, naming it.
    const auto& c = refused(a->authenticate("Bearer " + ec().sign(claims({{"scope", "crm:read"}}))));
    BOOST_TEST(c.status == 403u);
    BOOST_TEST(contains(c.www_authenticate, "error=\"insufficient_scope\""));
    // What the token has and what it lacks: asking for exactly that loses nothing.
    BOOST_TEST(contains(c.www_authenticate, "scope=\"crm:read tools\""), c.www_authenticate);
    // With it, the tool's and the operation's scopes decide each call.
    const auto who = let_in(a->authenticate("bearer " + ed().sign(claims({{"scope", "tools crm:read"}}))));
    BOOST_TEST(who.subject == "user-7");
    BOOST_TEST(!a->authorize(who, "crm", "search"));
    BOOST_TEST(!a->authorize(who, "rag", "query"));
    const auto denied = a->authorize(who, "crm", "upsert");
    BOOST_REQUIRE(denied);
    BOOST_TEST(denied->status == 403u);
    BOOST_TEST(contains(denied->message, "crm.upsert needs the scope crm:write"));
    // The scope to ask for keeps what the token had (a client asking for exactly it loses nothing).
    BOOST_TEST(contains(denied->www_authenticate, "scope=\"crm:read tools crm:write\""));
}

BOOST_FIXTURE_TEST_CASE(the_static_token_still_works_beside_oauth, oauth_fixture) {
    settings.auth_token = "s3cret-token";
    auto a = make();
    const auto who = let_in(a->authenticate("Bearer s3cret-token"));
    BOOST_TEST(!a->authorize(who, "crm", "upsert"));  // the operator's token may do everything
    BOOST_TEST(refused(a->authenticate("Bearer s3cret-tokem")).status == 401u);
}

BOOST_FIXTURE_TEST_CASE(the_metadata_names_the_resource_and_its_servers, oauth_fixture) {
    auto a = make();
    const auto doc = json::parse(a->metadata_json()).as_object();
    BOOST_TEST(doc.at("resource").as_string() == resource);
    BOOST_TEST(doc.at("authorization_servers").as_array().at(0).as_string() == issuer);
    BOOST_TEST(doc.at("scopes_supported").as_array().size() == 3u);
    BOOST_TEST(doc.at("bearer_methods_supported").as_array().at(0).as_string() == "header");
    BOOST_TEST(a->is_metadata_path("/.well-known/oauth-protected-resource/mcp"));
    BOOST_TEST(a->is_metadata_path("/.well-known/oauth-protected-resource"));
    BOOST_TEST(!a->is_metadata_path("/.well-known/oauth-protected-resource/other"));
}

BOOST_FIXTURE_TEST_CASE(a_new_signing_key_is_picked_up_and_a_removed_one_stops_working, oauth_fixture) {
    auto a = make();
    const std::string old_token = "Bearer " + ec().sign(claims({{"scope", "tools"}}));
    let_in(a->authenticate(old_token));  // verified, and cached
    // The authorization server rotates: a new key, the old one gone.
    const auto next = signing_key::ec_p256("ec-2");
    write_file(jwks_file, toolhost::test::jwks({next}));
    const std::string new_token = "Bearer " + next.sign(claims({{"scope", "tools"}}));
    // Not known yet: refused, and a reading of the file is asked for.
    const auto& c = refused(a->authenticate(new_token));
    BOOST_TEST(contains(c.message, "kid \"ec-2\""));
    // In the header the quotes become ' (RFC 6750 allows neither '"' nor '\\' in a value).
    BOOST_TEST(contains(c.www_authenticate, "error_description=\"no ES256 key with kid 'ec-2'\""), c.www_authenticate);
    BOOST_TEST(a->refresh_keys() == "");
    let_in(a->authenticate(new_token));
    // The cached verification of the old token went with the old key set.
    BOOST_TEST(contains(refused(a->authenticate(old_token)).message, "kid \"ec-1\""));
}

BOOST_FIXTURE_TEST_CASE(cached_tokens_still_expire, oauth_fixture) {
    auto a = make();
    const std::string token = "Bearer " + ec().sign(claims({{"scope", "tools"}, {"exp", now_s + 10}}));
    let_in(a->authenticate(token));
    clock = now + seconds(69);  // exp + leeway - 1
    let_in(a->authenticate(token));
    clock = now + seconds(70);
    BOOST_TEST(refused(a->authenticate(token)).status == 401u);
}

BOOST_FIXTURE_TEST_CASE(keys_that_cannot_be_read_stop_the_start, oauth_fixture) {
    write_file(jwks_file, "{\"keys\": [{\"kty\": \"oct\", \"k\": \"c2VjcmV0\"}]}");
    auto a = auth::authenticator::create(settings);
    BOOST_REQUIRE(a.has_error());
    BOOST_TEST(contains(a.error(), "no key usable for RS256, ES256 or EdDSA"));
    std::filesystem::remove(jwks_file);
    a = auth::authenticator::create(settings);
    BOOST_TEST(contains(a.error(), "jwks.json: cannot be read"));
}

BOOST_AUTO_TEST_CASE(keys_fetched_from_a_url_and_fetched_again_for_an_unknown_kid) {
    std::mutex m;
    std::string served = toolhost::test::jwks({ec()});
    int fetches = 0;
    toolhost::test::http_server as([&](const toolhost::test::http_request& r) {
        std::lock_guard lock(m);
        if (r.path() != "/jwks")
            return toolhost::test::http_response{.status = 404, .headers = {}, .body = {}, .hold = {}};
        ++fetches;
        return toolhost::test::http_response::json(200, json::parse(served));
    });
    toolhost::serve_settings s;
    s.oauth.resource = resource;
    s.oauth.authorization_servers = {issuer};
    s.oauth.issuer = issuer;
    s.oauth.jwks_url = as.url() + "/jwks";
    s.oauth.jwks_min_refresh_ms = 0;
    auto a = auth::authenticator::create(s, [] { return now; });
    BOOST_REQUIRE_MESSAGE(a, (a ? "" : a.error()));
    let_in((*a)->authenticate("Bearer " + ec().sign(claims())));
    {
        std::lock_guard lock(m);
        served = toolhost::test::jwks({ec(), ed()});
    }
    BOOST_TEST(refused((*a)->authenticate("Bearer " + ed().sign(claims()))).status == 401u);
    // The refresh runs on the key source's thread.
    const std::string token = "Bearer " + ed().sign(claims());
    BOOST_TEST(toolhost::test::eventually(
        [&] { return std::holds_alternative<auth::principal>((*a)->authenticate(token)); }, seconds(10)));
    std::lock_guard lock(m);
    BOOST_TEST(fetches >= 2);
    // RFC 9110: Host names the port when it is not the scheme's default.
    BOOST_TEST(as.requests().at(0).header("host").value_or("") == as.url().substr(std::string_view("http://").size()));
}

BOOST_AUTO_TEST_CASE(fetch_failures_name_the_url) {
    toolhost::test::http_server as([](const toolhost::test::http_request&) {
        return toolhost::test::http_response{.status = 500, .headers = {}, .body = {}, .hold = {}};
    });
    auto r = auth::fetch(as.url() + "/jwks", {});
    BOOST_TEST(!r.ok);
    BOOST_TEST(r.error == as.url() + "/jwks: answered 500");
    auto gate = std::make_shared<toolhost::test::gate>();
    toolhost::test::http_server slow([gate](const toolhost::test::http_request&) {
        return toolhost::test::http_response{.status = 200, .headers = {}, .body = {}, .hold = gate};
    });
    auth::fetch_options o;
    o.timeout = milliseconds(200);
    r = auth::fetch(slow.url() + "/jwks", o);
    BOOST_TEST(contains(r.error, "no answer within 200 ms"));
    gate->open();
}

BOOST_AUTO_TEST_CASE(keys_fetched_over_https_trust_the_configured_ca_only) {
    temp_dir dir;
    toolhost::test::test_ca ca(dir.path());
    const auto cert = ca.issue("as", 1);
    write_file(dir / "jwks.json", toolhost::test::jwks({ec()}));
    // A real HTTPS server (openssl s_server -WWW serves the files of its folder).
    toolhost::test::background_process server(
        {"/bin/sh", "-c",
         "cd '" + dir.path().string() +
             "' && exec /usr/bin/openssl s_server -accept 127.0.0.1:0 -cert as.pem -key as.key -WWW"},
        dir.path());
    std::string port;
    BOOST_REQUIRE(toolhost::test::eventually(
        [&] {
            const auto out = server.out();
            const auto at = out.find("ACCEPT 127.0.0.1:");
            if (at == std::string::npos) return false;
            port = out.substr(at + 17, out.find('\n', at) - at - 17);
            return true;
        },
        seconds(10)));
    auth::fetch_options trusted;
    trusted.ca_file = ca.certificate().string();
    for (const std::string host : {"127.0.0.1", "localhost"}) {
        const auto r = auth::fetch("https://" + host + ":" + port + "/jwks.json", trusted);
        BOOST_TEST_CONTEXT(host) {
            BOOST_REQUIRE_MESSAGE(r.ok, r.error);
            BOOST_TEST(auth::key_set::parse(r.body)->size() == 1u);
        }
    }
    // The system's CAs do not know the test CA: the fetch fails and says so.
    const auto untrusted = auth::fetch("https://127.0.0.1:" + port + "/jwks.json", {});
    BOOST_TEST(!untrusted.ok);
    BOOST_TEST(contains(untrusted.error, "certificate verify failed"), untrusted.error);
}
