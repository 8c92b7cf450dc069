// The "serve" section of the config file, parsed by serving (serve::load_settings): the core
// keeps it as written.
#define BOOST_TEST_MODULE serve_settings
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <toolhost/config.hpp>
#include <toolhost/serve/settings.hpp>

#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using toolhost::json_diagnostic;
using toolhost::test::all;
using toolhost::test::fake_env;
using toolhost::test::temp_dir;

namespace {

fs::path write(const temp_dir& dir, const std::string& name, const std::string& text) {
    const fs::path file = dir / name;
    std::ofstream(file, std::ios::binary) << text;
    return file;
}

// The file's config, then its "serve" section as serving reads it.
auto load(const fs::path& file, const fake_env& env) {
    auto config = toolhost::load_config(file, env.fn());
    if (config.has_error()) BOOST_FAIL(all(config.error()));
    return toolhost::serve::load_settings(*config, env.fn());
}

}  // namespace

BOOST_AUTO_TEST_CASE(serve_section) {
    temp_dir dir;
    auto good = write(dir, "good.json", R"({"serve": {"json_max_depth": 8,
        "http": {"listen": "[::1]:0", "allowed_hosts": ["tools.internal:8080"], "allowed_origins": ["https://a.example"],
                 "auth_token": "from-file", "stateless": true, "max_request_bytes": 65536, "request_timeout_ms": 500,
                 "idle_timeout_ms": 1000, "session_idle_timeout_ms": 2000, "max_sessions": 3, "shutdown_grace_ms": 0},
        "mcp": {"tool_name": "t_{tool}_{operation}", "page_size": 7, "instructions": "be nice", "call_timeout_ms": 9000,
                "list_ttl_ms": 60000, "list_cache_scope": "public",
                "request_state_secret": "0123456789abcdef0123456789abcdef", "max_subscriptions": 5,
                "max_resource_subscriptions": 7}}})");
    fake_env env;
    auto settings = load(good, env);
    if (settings.has_error()) BOOST_FAIL(all(settings.error()));
    const auto& s = *settings;
    BOOST_TEST(s.listen == "[::1]:0");
    BOOST_TEST(toolhost::serve::split_listen_address(s.listen).first == "::1");
    BOOST_TEST(s.allowed_hosts == std::vector<std::string>{"tools.internal:8080"});
    BOOST_TEST(s.allowed_origins == std::vector<std::string>{"https://a.example"});
    BOOST_TEST(s.auth_token == "from-file");
    BOOST_TEST(s.stateless);
    BOOST_TEST(s.max_request_bytes == 65536u);
    BOOST_TEST(s.request_timeout_ms == 500u);
    BOOST_TEST(s.idle_timeout_ms == 1000u);
    BOOST_TEST(s.session_idle_timeout_ms == 2000u);
    BOOST_TEST(s.max_sessions == 3u);
    BOOST_TEST(s.shutdown_grace_ms == 0u);
    BOOST_TEST(s.tool_name == "t_{tool}_{operation}");
    BOOST_TEST(s.page_size == 7u);
    BOOST_TEST(s.instructions == "be nice");
    BOOST_TEST(s.call_timeout_ms == 9000u);
    BOOST_TEST(s.list_ttl_ms == 60000u);
    BOOST_TEST(s.list_cache_scope == "public");
    BOOST_TEST(s.request_state_secret == "0123456789abcdef0123456789abcdef");
    BOOST_TEST(s.max_subscriptions == 5u);
    BOOST_TEST(s.max_resource_subscriptions == 7u);
    BOOST_TEST(s.json_max_depth == 8u);
    env.vars = {{"TOOLHOST_AUTH_TOKEN", "from-env"}};
    BOOST_TEST(load(good, env)->auth_token == "from-env");
    env.vars = {{"TOOLHOST_AUTH_TOKEN", ""}};  // empty: unset
    BOOST_TEST(load(good, env)->auth_token == "from-file");
    env.vars = {{"TOOLHOST_MCP_STATE_SECRET", std::string(40, 's')}};
    BOOST_TEST(load(good, env)->request_state_secret == std::string(40, 's'));
    env.vars = {{"TOOLHOST_MCP_STATE_SECRET", "short"}};
    const auto short_secret = load(good, env);
    BOOST_TEST_REQUIRE(short_secret.has_error());
    BOOST_TEST(all(short_secret.error()).find("TOOLHOST_MCP_STATE_SECRET: must be at least 32 characters") !=
                   std::string::npos,
               all(short_secret.error()));

    // Defaults: loopback, the {tool}_{operation} names; the same without a file.
    auto empty = load(write(dir, "empty.json", "{}"), fake_env{});
    BOOST_TEST(empty->listen == "127.0.0.1:8080");
    BOOST_TEST(empty->tool_name == "{tool}_{operation}");
    BOOST_TEST(!empty->stateless);
    BOOST_TEST(empty->auth_token.empty());
    BOOST_TEST(empty->json_max_depth == 64u);
    auto defaults = toolhost::default_config(fake_env{}.fn());
    BOOST_TEST_REQUIRE(defaults.has_value());
    BOOST_TEST(toolhost::serve::load_settings(*defaults, fake_env{}.fn())->listen == "127.0.0.1:8080");

    auto bad =
        write(dir, "bad.json",
              "{\"serve\": {\"http\": {\"listen\": \"example.com:80\", \"max_sessions\": 0, \"ssl\": true},\n"
              "             \"mcp\": {\"tool_name\": \"{tool}\", \"page_size\": -1, \"list_cache_scope\": \"shared\","
              "                      \"request_state_secret\": \"short\"},"
              "             \"rest\": {}, \"json_max_depth\": 3}}");
    auto errors = load(bad, fake_env{});
    BOOST_TEST_REQUIRE(errors.has_error());
    const std::string text = all(errors.error());
    BOOST_TEST(
        text.find("/serve/http/listen: 'example.com' is not an IP address (or localhost), got \"example.com:80\"") !=
            std::string::npos,
        text);
    BOOST_TEST(
        text.find("/serve/http/max_sessions: expected an integer from 1 to 10000000, got 0") != std::string::npos,
        text);
    BOOST_TEST(text.find("/serve/http/ssl: unknown key 'ssl'") != std::string::npos, text);
    BOOST_TEST(text.find("/serve/mcp/tool_name: the template must contain {operation}") != std::string::npos, text);
    BOOST_TEST(text.find("/serve/mcp/page_size: expected an integer from 1 to 10000, got -1") != std::string::npos,
               text);
    BOOST_TEST(text.find("/serve/mcp/list_cache_scope: must be \"private\" or \"public\", got \"shared\"") !=
                   std::string::npos,
               text);
    BOOST_TEST(text.find("/serve/mcp/request_state_secret: must be at least 32 characters (it keys an HMAC), got 5") !=
                   std::string::npos,
               text);
    BOOST_TEST(
        text.find("/serve/rest: unknown key 'rest' (expected one of: http, mcp, node_id, database, plugin_rescan_ms, "
                  "plugin_quiet_ms, plugin_safety_scan_ms, json_max_depth)") != std::string::npos,
        text);
    BOOST_TEST(text.find("/serve/json_max_depth: expected an integer from 4 to 1000, got 3") != std::string::npos,
               text);
    // Each problem names the file and its place in it, in the order of the file.
    BOOST_TEST(text.find(bad.string() + ":1:") != std::string::npos, text);
    BOOST_TEST(text.find(bad.string() + ":2:") != std::string::npos, text);
    BOOST_TEST(text.find("/serve/http/listen") < text.find("/serve/mcp/tool_name"), text);

    // A "serve" that is not an object is the core's to report: it keeps the section as written.
    auto not_object = toolhost::load_config(write(dir, "not_object.json", R"({"serve": 3})"), fake_env{}.fn());
    BOOST_TEST_REQUIRE(not_object.has_error());
    BOOST_TEST(all(not_object.error()).find("/serve: expected an object, got 3") != std::string::npos,
               all(not_object.error()));

    BOOST_TEST(toolhost::serve::check_listen_address("127.0.0.1:8080").empty());
    BOOST_TEST(toolhost::serve::check_listen_address("localhost:0").empty());
    BOOST_TEST(!toolhost::serve::check_listen_address("127.0.0.1").empty());
    BOOST_TEST(!toolhost::serve::check_listen_address("127.0.0.1:99999").empty());
    BOOST_TEST(!toolhost::serve::check_listen_address("[::1:80").empty());
}

namespace {

// A file whose "serve.http" is `http`, as serving reads it.
auto http_settings(const temp_dir& dir, const std::string& http) {
    static int files = 0;
    return load(write(dir, "http" + std::to_string(++files) + ".json", R"({"serve": {"http": )" + http + "}}"),
                fake_env{});
}

// The problems with a "serve.http" that has some.
std::string http_problems(const temp_dir& dir, const std::string& http) {
    auto s = http_settings(dir, http);
    return s.has_error() ? all(s.error()) : "no problem";
}

}  // namespace

// The limits against hostile clients (issue 15), each with its default and its range.
BOOST_AUTO_TEST_CASE(stream_limits) {
    temp_dir dir;
    auto set = http_settings(dir, R"({"max_stream_backlog_bytes": 65536, "stream_write_timeout_ms": 250})");
    BOOST_TEST_REQUIRE(set.has_value());
    BOOST_TEST(set->max_stream_backlog_bytes == 65536u);
    BOOST_TEST(set->stream_write_timeout_ms == 250u);
    auto defaults = http_settings(dir, "{}");
    BOOST_TEST(defaults->max_stream_backlog_bytes == 16u << 20);
    BOOST_TEST(defaults->stream_write_timeout_ms == 30000u);
    const auto problems = http_problems(dir, R"({"max_stream_backlog_bytes": 100, "stream_write_timeout_ms": 0})");
    BOOST_TEST(
        toolhost::test::contains(
            problems, "/serve/http/max_stream_backlog_bytes: expected an integer from 4096 to 1073741824, got 100"),
        problems);
    BOOST_TEST(toolhost::test::contains(
                   problems, "/serve/http/stream_write_timeout_ms: expected an integer from 1 to 86400000, got 0"),
               problems);
}

BOOST_AUTO_TEST_CASE(connection_limit) {
    temp_dir dir;
    BOOST_TEST(http_settings(dir, R"({"max_connections": 64})")->max_connections == 64u);
    BOOST_TEST(http_settings(dir, "{}")->max_connections == 0u);  // derived from RLIMIT_NOFILE when serving starts
    const auto problems = http_problems(dir, R"({"max_connections": -1})");
    BOOST_TEST(
        toolhost::test::contains(problems, "/serve/http/max_connections: expected an integer from 0 to 10000000"),
        problems);
}

BOOST_AUTO_TEST_CASE(a_non_loopback_address_needs_a_token_or_allow_unauthenticated) {
    temp_dir dir;
    BOOST_TEST(http_settings(dir, R"({"allow_unauthenticated": true})")->allow_unauthenticated);
    BOOST_TEST(!http_settings(dir, "{}")->allow_unauthenticated);
    const auto problems = http_problems(dir, R"({"allow_unauthenticated": "yes"})");
    BOOST_TEST(toolhost::test::contains(problems, "/serve/http/allow_unauthenticated: expected"), problems);

    toolhost::serve_settings s;
    s.listen = "0.0.0.0:8080";
    BOOST_TEST(toolhost::test::contains(toolhost::serve::unauthenticated_exposure(s), "without authentication"));
    s.listen = "[::]:8080";
    BOOST_TEST(!toolhost::serve::unauthenticated_exposure(s).empty());
    s.auth_token = "t";
    BOOST_TEST(toolhost::serve::unauthenticated_exposure(s).empty());
    s.auth_token.clear();
    s.allow_unauthenticated = true;
    BOOST_TEST(toolhost::serve::unauthenticated_exposure(s).empty());
    s.allow_unauthenticated = false;
    for (const char* loopback : {"127.0.0.1:8080", "127.1.2.3:0", "localhost:80", "[::1]:0"}) {
        s.listen = loopback;
        BOOST_TEST(toolhost::serve::unauthenticated_exposure(s).empty(), loopback);
    }
}

BOOST_AUTO_TEST_CASE(sessions_per_client) {
    temp_dir dir;
    BOOST_TEST(http_settings(dir, R"({"max_sessions_per_client": 5})")->max_sessions_per_client == 5u);
    BOOST_TEST(http_settings(dir, "{}")->max_sessions_per_client == 100u);
    const auto problems = http_problems(dir, R"({"max_sessions_per_client": 0})");
    BOOST_TEST(toolhost::test::contains(
                   problems, "/serve/http/max_sessions_per_client: expected an integer from 1 to 10000000, got 0"),
               problems);
}

BOOST_AUTO_TEST_CASE(oauth_and_rate_limits) {
    temp_dir dir;
    write(dir, "jwks.json", R"({"keys": []})");
    auto good = write(dir, "good.json", R"({"serve": {"http": {
        "oauth": {"resource": "https://tools.example.com/mcp", "authorization_servers": ["https://as.example.com"],
                  "jwks_file": "jwks.json", "leeway_s": 30, "algorithms": ["ES256"],
                  "required_scopes": ["tools"], "scopes": {"crm": ["crm:read"], "crm.upsert": ["crm:write"]}},
        "rate_limit": {"requests_per_second": 20, "burst": 40,
                       "tools": {"escalation": {"calls_per_minute": 6}}}}}})");
    auto settings = load(good, fake_env{});
    if (settings.has_error()) BOOST_FAIL(all(settings.error()));
    const auto& o = settings->oauth;
    BOOST_TEST(o.enabled());
    BOOST_TEST(o.issuer == "https://as.example.com");         // the first server by default
    BOOST_TEST(o.jwks_file == (dir / "jwks.json").string());  // next to the config file
    BOOST_TEST(o.leeway_s == 30u);
    BOOST_TEST(o.algorithms == std::vector<std::string>{"ES256"});
    BOOST_TEST(o.scopes.size() == 2u);
    BOOST_TEST(o.scopes_supported == (std::vector<std::string>{"tools", "crm:read", "crm:write"}));
    const auto& r = settings->rate_limit;
    BOOST_TEST(r.requests.per_second == 20.0);
    BOOST_TEST(r.requests.burst == 40.0);
    BOOST_REQUIRE(r.tools.size() == 1u);
    BOOST_TEST(r.tools[0].first == "escalation");
    BOOST_TEST(r.tools[0].second.per_second == 0.1);
    BOOST_TEST(r.tools[0].second.burst == 1.0);
    BOOST_TEST(!load(write(dir, "none.json", "{}"), fake_env{})->oauth.enabled());

    auto bad = write(dir, "bad.json", R"({"serve": {"http": {
        "oauth": {"resource": "http://tools.example.com/mcp", "authorization_servers": ["not a uri"],
                  "jwks_file": "jwks.json", "jwks_url": "https://as.example.com/jwks", "algorithms": ["HS256"]},
        "rate_limit": {"requests_per_second": 5, "requests_per_minute": 5, "tools": {"crm": {"calls": 1}}}}}})");
    auto errors = load(bad, fake_env{});
    BOOST_TEST_REQUIRE(errors.has_error());
    const std::string text = all(errors.error());
    for (const char* expected :
         {"/serve/http/oauth/resource: expected an https URI (http only on loopback)",
          "/serve/http/oauth/authorization_servers/0: not an absolute URI with a host",
          "/serve/http/oauth: give the signing keys as exactly one of \"jwks_file\" and \"jwks_url\"",
          "/serve/http/oauth/algorithms/0: expected one of RS256, ES256, EdDSA",
          "/serve/http/rate_limit: give \"requests_per_second\" or \"requests_per_minute\", not both",
          "/serve/http/rate_limit/tools/crm/calls: unknown key 'calls'"})
        BOOST_TEST(text.find(expected) != std::string::npos, expected << " in:\n" << text);
    auto missing = load(write(dir, "missing.json", R"({"serve": {"http": {"oauth": {}}}})"), fake_env{});
    BOOST_TEST_REQUIRE(missing.has_error());
    BOOST_TEST(all(missing.error()).find("\"resource\" is required") != std::string::npos);
    BOOST_TEST(all(missing.error()).find("\"authorization_servers\" is required") != std::string::npos);
    BOOST_TEST(toolhost::serve::check_https_uri("http://127.0.0.1:8080/mcp").empty());
    BOOST_TEST(toolhost::serve::check_https_uri("http://[::1]:8080/mcp").empty());
    BOOST_TEST(!toolhost::serve::check_https_uri("https://a.example/x#frag").empty());
}

BOOST_AUTO_TEST_CASE(tls_files_and_minimum_version) {
    temp_dir dir;
    auto loaded = http_settings(dir, R"({"tls": {"certificate": "tls/cert.pem", "private_key": "/etc/k.pem",
                                                 "min_version": "1.3"}})");
    BOOST_TEST_REQUIRE(loaded.has_value());
    const auto& s = *loaded;
    BOOST_TEST(s.tls.enabled());
    BOOST_TEST(s.tls.certificate == (dir / "tls/cert.pem").string());  // next to the config file
    BOOST_TEST(s.tls.private_key == "/etc/k.pem");
    BOOST_TEST(s.tls.min_version == "1.3");
    BOOST_TEST(http_settings(dir, R"({"tls": {"certificate": "c.pem", "private_key": "k.pem"}})")->tls.min_version ==
               "1.2");
    BOOST_TEST(!http_settings(dir, "{}")->tls.enabled());

    const auto only_cert = http_problems(dir, R"({"tls": {"certificate": "c.pem"}})");
    using toolhost::test::contains;
    BOOST_TEST(contains(only_cert, "/serve/http/tls: give both \"certificate\" and \"private_key\" (PEM files)"),
               only_cert);
    const auto old = http_problems(dir, R"({"tls": {"certificate": "c.pem", "private_key": "k.pem",
                                                    "min_version": "1.1"}})");
    BOOST_TEST(contains(old, "/serve/http/tls/min_version: expected \"1.2\" or \"1.3\", got \"1.1\""), old);
    const auto unknown = http_problems(dir, R"({"tls": {"cert": "c.pem"}})");
    BOOST_TEST(contains(unknown, "/serve/http/tls/cert: unknown key 'cert'"), unknown);
}

BOOST_AUTO_TEST_CASE(the_console_is_on_unless_turned_off) {
    temp_dir dir;
    BOOST_TEST(http_settings(dir, "{}")->console);
    BOOST_TEST(!http_settings(dir, R"({"console": false})")->console);
    const auto problems = http_problems(dir, R"({"console": "off"})");
    BOOST_TEST(toolhost::test::contains(problems, "/serve/http/console: expected"), problems);
}

BOOST_AUTO_TEST_CASE(the_drain_delay_is_bounded) {
    temp_dir dir;
    BOOST_TEST(http_settings(dir, "{}")->drain_delay_ms == 0u);
    BOOST_TEST(http_settings(dir, R"({"drain_delay_ms": 5000})")->drain_delay_ms == 5000u);
    const auto problems = http_problems(dir, R"({"drain_delay_ms": 600001})");
    BOOST_TEST(toolhost::test::contains(problems, "/serve/http/drain_delay_ms: expected an integer from 0 to 600000"),
               problems);
}

BOOST_AUTO_TEST_CASE(the_node_id_comes_from_the_file_the_environment_or_the_host_name) {
    temp_dir dir;
    const auto by_default = http_settings(dir, "{}");
    BOOST_TEST(by_default->node_id == toolhost::serve::default_node_id());
    BOOST_TEST(toolhost::serve::check_node_id(by_default->node_id).empty(), by_default->node_id);
    BOOST_TEST(toolhost::serve::check_node_id("tools-eu_1").empty());
    BOOST_TEST(!toolhost::serve::check_node_id("a.b").empty());  // the dot ends the node in a session id
    BOOST_TEST(!toolhost::serve::check_node_id("").empty());
    BOOST_TEST(!toolhost::serve::check_node_id(std::string(33, 'a')).empty());

    const auto file = write(dir, "node.json", R"({"serve": {"node_id": "eu-1"}})");
    BOOST_TEST(load(file, fake_env{})->node_id == "eu-1");
    fake_env env;
    env.vars["TOOLHOST_NODE_ID"] = "eu-2";
    BOOST_TEST(load(file, env)->node_id == "eu-2");  // the environment wins
    auto bad = load(write(dir, "bad-node.json", R"({"serve": {"node_id": "eu.1"}})"), fake_env{});
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST(toolhost::test::contains(all(bad.error()), "/serve/node_id: expected 1 to 32 letters"),
               all(bad.error()));
}

BOOST_AUTO_TEST_CASE(the_shared_database_comes_from_the_file_else_the_environment) {
    temp_dir dir;
    BOOST_TEST(http_settings(dir, "{}")->database.empty());  // one host alone by default
    fake_env env;
    env.vars["TOOLHOST_DATABASE_URL"] = "postgresql://toolhost:secret@db:5432/tools";
    const auto none = write(dir, "none.json", "{}");
    BOOST_TEST(load(none, env)->database == "postgresql://toolhost:secret@db:5432/tools");
    // The file wins over the variable (which the tools may still use for their storage), and an
    // empty value there means no shared database at all.
    const auto file = write(dir, "db.json", R"({"serve": {"database": "postgres://h/other"}})");
    BOOST_TEST(load(file, env)->database == "postgres://h/other");
    const auto off = write(dir, "off.json", R"({"serve": {"database": ""}})");
    BOOST_TEST(load(off, env)->database.empty());
    // Anything but a PostgreSQL URL is refused, where it came from, without repeating the value
    // (it may hold a password).
    auto bad = load(write(dir, "bad-db.json", R"({"serve": {"database": "mysql://u:pw@h/db"}})"), fake_env{});
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST(toolhost::test::contains(all(bad.error()), "/serve/database: must be a PostgreSQL URL"),
               all(bad.error()));
    BOOST_TEST(!toolhost::test::contains(all(bad.error()), "pw"), all(bad.error()));
    fake_env wrong;
    wrong.vars["TOOLHOST_DATABASE_URL"] = "sqlite:///var/x.db";
    auto from_env = load(none, wrong);
    BOOST_TEST_REQUIRE(from_env.has_error());
    BOOST_TEST(toolhost::test::contains(all(from_env.error()), "TOOLHOST_DATABASE_URL: must be a PostgreSQL URL"),
               all(from_env.error()));
}
