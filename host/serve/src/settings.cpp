// The "serve" section (docs/serving.md): checked with the core's config_reader, so that its
// messages read like every other section's.
#include <toolhost/config_reader.hpp>
#include <toolhost/serve/settings.hpp>

#include <unistd.h>

#include <boost/asio/ip/address.hpp>
#include <boost/url/parse.hpp>

#include <algorithm>
#include <cmath>

#include <charconv>

namespace toolhost::serve {
namespace {

namespace json = boost::json;
constexpr std::uint64_t day_ms = 86400000;
constexpr std::string_view algorithm_names[] = {"RS256", "ES256", "EdDSA"};

class settings_reader : config_reader {
public:
    settings_reader(const host_config& config, serve_settings& s, std::vector<json_diagnostic>& errors)
        : config_reader(config.document.get(), errors), s_(s),
          base_(config.file.empty() ? std::filesystem::current_path()
                                    : std::filesystem::absolute(config.file).parent_path()) {}

    void read(const json::object& obj) {
        check_keys("/serve", obj,
                   {"http", "mcp", "node_id", "database", "plugin_rescan_ms", "plugin_quiet_ms",
                    "plugin_safety_scan_ms", "json_max_depth"});
        if (const auto* x = obj.if_contains("node_id")) {
            read_string("/serve/node_id", *x, s_.node_id, false);
            if (auto problem = check_node_id(s_.node_id); x->is_string() && !problem.empty())
                error("/serve/node_id", problem + ", got " + describe_json(*x));
        }
        if (const auto* x = obj.if_contains("database")) {
            std::string url;
            read_string("/serve/database", *x, url, true);
            if (x->is_string()) {
                if (auto problem = check_database_url(url); !problem.empty()) error("/serve/database", problem);
                s_.database = std::move(url);
                database_set = true;
            }
        }
        integer(obj, "/serve", "plugin_rescan_ms", 0, day_ms, s_.plugin_rescan_ms);
        integer(obj, "/serve", "plugin_quiet_ms", 0, 60000, s_.plugin_quiet_ms);
        integer(obj, "/serve", "plugin_safety_scan_ms", 0, day_ms, s_.plugin_safety_scan_ms);
        // At least what a tools/call with a nested argument needs; at most what every reader of
        // the value (schema validation, serialization, plugins) handles without deep recursion.
        integer(obj, "/serve", "json_max_depth", 4, 1000, s_.json_max_depth);
        if (const auto* h = obj.if_contains("http"))
            if (const auto* o = object("/serve/http", *h)) read_http(*o);
        if (const auto* m = obj.if_contains("mcp"))
            if (const auto* o = object("/serve/mcp", *m)) read_mcp(*o);
    }

private:
    // Reads an integer from `min` to `max` into `out` when the key is there.
    template <class T>
    void integer(const json::object& o, std::string_view section, std::string_view key, std::uint64_t min,
                 std::uint64_t max, T& out) {
        const auto* x = o.if_contains(key);
        if (!x) return;
        std::string pointer(section);
        pointer += '/';
        pointer += key;
        if (auto n = read_integer(pointer, *x, min, max)) out = static_cast<T>(*n);
    }

    void read_http(const json::object& o) {
        check_keys("/serve/http", o,
                   {"listen",
                    "allowed_hosts",
                    "allowed_origins",
                    "auth_token",
                    "stateless",
                    "max_request_bytes",
                    "request_timeout_ms",
                    "idle_timeout_ms",
                    "session_idle_timeout_ms",
                    "max_sessions",
                    "shutdown_grace_ms",
                    "drain_delay_ms",
                    "io_threads",
                    "max_sessions_per_client",
                    "max_connections",
                    "max_stream_backlog_bytes",
                    "stream_write_timeout_ms",
                    "allow_unauthenticated",
                    "console",
                    "oauth",
                    "rate_limit",
                    "tls"});
        if (const auto* x = o.if_contains("listen")) {
            read_string("/serve/http/listen", *x, s_.listen, false);
            if (auto problem = check_listen_address(s_.listen); x->is_string() && !problem.empty())
                error("/serve/http/listen", problem + ", got " + describe_json(*x));
        }
        if (const auto* x = o.if_contains("allowed_hosts"))
            read_strings("/serve/http/allowed_hosts", *x, s_.allowed_hosts);
        if (const auto* x = o.if_contains("allowed_origins"))
            read_strings("/serve/http/allowed_origins", *x, s_.allowed_origins);
        if (const auto* x = o.if_contains("auth_token")) read_string("/serve/http/auth_token", *x, s_.auth_token, true);
        if (const auto* x = o.if_contains("stateless")) read_bool("/serve/http/stateless", *x, s_.stateless);
        integer(o, "/serve/http", "max_request_bytes", 1024, std::uint64_t(1) << 30, s_.max_request_bytes);
        integer(o, "/serve/http", "request_timeout_ms", 1, day_ms, s_.request_timeout_ms);
        integer(o, "/serve/http", "idle_timeout_ms", 1, day_ms, s_.idle_timeout_ms);
        integer(o, "/serve/http", "session_idle_timeout_ms", 1, 30 * day_ms, s_.session_idle_timeout_ms);
        integer(o, "/serve/http", "max_sessions", 1, 10000000, s_.max_sessions);
        integer(o, "/serve/http", "shutdown_grace_ms", 0, day_ms, s_.shutdown_grace_ms);
        integer(o, "/serve/http", "drain_delay_ms", 0, 600000, s_.drain_delay_ms);
        integer(o, "/serve/http", "io_threads", 0, 256, s_.io_threads);
        integer(o, "/serve/http", "max_sessions_per_client", 1, 10000000, s_.max_sessions_per_client);
        integer(o, "/serve/http", "max_connections", 0, 10000000, s_.max_connections);
        integer(o, "/serve/http", "max_stream_backlog_bytes", 4096, std::uint64_t(1) << 30,
                s_.max_stream_backlog_bytes);
        integer(o, "/serve/http", "stream_write_timeout_ms", 1, day_ms, s_.stream_write_timeout_ms);
        if (const auto* x = o.if_contains("allow_unauthenticated"))
            read_bool("/serve/http/allow_unauthenticated", *x, s_.allow_unauthenticated);
        if (const auto* x = o.if_contains("console")) read_bool("/serve/http/console", *x, s_.console);
        if (const auto* x = o.if_contains("oauth"))
            if (const auto* oo = object("/serve/http/oauth", *x)) read_oauth(*oo);
        if (const auto* x = o.if_contains("rate_limit"))
            if (const auto* oo = object("/serve/http/rate_limit", *x)) read_rate_limit(*oo);
        if (const auto* x = o.if_contains("tls"))
            if (const auto* oo = object("/serve/http/tls", *x)) read_tls(*oo);
    }

    void read_tls(const json::object& o) {
        const std::string at = "/serve/http/tls";
        auto& t = s_.tls;
        check_keys(at, o, {"certificate", "private_key", "min_version"});
        if (const auto* x = o.if_contains("certificate")) t.certificate = file_path(at + "/certificate", *x);
        if (const auto* x = o.if_contains("private_key")) t.private_key = file_path(at + "/private_key", *x);
        if (t.certificate.empty() || t.private_key.empty())
            error(at, "give both \"certificate\" and \"private_key\" (PEM files)");
        if (const auto* x = o.if_contains("min_version")) {
            read_string(at + "/min_version", *x, t.min_version, false);
            if (x->is_string() && t.min_version != "1.2" && t.min_version != "1.3")
                error(at + "/min_version", "expected \"1.2\" or \"1.3\", got " + describe_json(*x));
        }
    }

    // {"<what>_per_second": n} or {"<what>_per_minute": n}, and "burst".
    void read_rate(const std::string& at, const json::object& o, std::string_view what, rate_setting& out) {
        const std::string per_s = std::string(what) + "_per_second", per_m = std::string(what) + "_per_minute";
        check_keys(at, o, {per_s, per_m, "burst"});
        if (o.contains(per_s) && o.contains(per_m)) error(at, "give \"" + per_s + "\" or \"" + per_m + "\", not both");
        if (const auto* x = o.if_contains(per_s))
            if (auto n = read_integer(at + "/" + per_s, *x, 0, 1000000)) out.per_second = static_cast<double>(*n);
        if (const auto* x = o.if_contains(per_m))
            if (auto n = read_integer(at + "/" + per_m, *x, 0, 60000000))
                out.per_second = static_cast<double>(*n) / 60.0;
        std::uint64_t burst = 0;
        integer(o, at, "burst", 1, 10000000, burst);
        out.burst = burst > 0 ? static_cast<double>(burst) : std::max(1.0, std::ceil(out.per_second));
    }

    void read_rate_limit(const json::object& o) {
        const std::string at = "/serve/http/rate_limit";
        check_keys(at, o, {"requests_per_second", "requests_per_minute", "burst", "tools", "max_clients"});
        json::object requests;
        for (std::string_view k : {"requests_per_second", "requests_per_minute", "burst"})
            if (const auto* x = o.if_contains(k)) requests[k] = *x;
        read_rate(at, requests, "requests", s_.rate_limit.requests);
        integer(o, at, "max_clients", 16, 100000000, s_.rate_limit.max_clients);
        if (const auto* x = o.if_contains("tools"))
            if (const auto* tools = object(at + "/tools", *x))
                for (const auto& [name, v] : *tools)
                    if (const auto* t = object(at + "/tools/" + std::string(name), v)) {
                        rate_setting r;
                        read_rate(at + "/tools/" + std::string(name), *t, "calls", r);
                        s_.rate_limit.tools.emplace_back(std::string(name), r);
                    }
    }

    void read_oauth(const json::object& o) {
        const std::string at = "/serve/http/oauth";
        auto& a = s_.oauth;
        check_keys(at, o,
                   {"resource", "authorization_servers", "issuer", "audiences", "jwks_file", "jwks_url", "jwks_ca_file",
                    "jwks_refresh_ms", "jwks_min_refresh_ms", "leeway_s", "algorithms", "required_scopes", "scopes",
                    "scopes_supported"});
        const auto uri = [&](const std::string& pointer, const json::value& v, std::string& out) {
            read_string(pointer, v, out, false);
            if (v.is_string() && !out.empty())
                if (auto problem = check_https_uri(out); !problem.empty()) error(pointer, problem);
        };
        if (const auto* x = o.if_contains("resource"))
            uri(at + "/resource", *x, a.resource);
        else
            error(at, "\"resource\" is required: the URI clients reach the MCP endpoint at");
        if (const auto* x = o.if_contains("authorization_servers")) {
            read_strings(at + "/authorization_servers", *x, a.authorization_servers);
            for (std::size_t i = 0; i < a.authorization_servers.size(); ++i)
                if (auto problem = check_https_uri(a.authorization_servers[i]); !problem.empty())
                    error(at + "/authorization_servers/" + std::to_string(i), problem);
        }
        if (a.authorization_servers.empty())
            error(at, "\"authorization_servers\" is required: at least one server that issues tokens");
        if (const auto* x = o.if_contains("issuer")) read_string(at + "/issuer", *x, a.issuer, false);
        if (a.issuer.empty() && !a.authorization_servers.empty()) a.issuer = a.authorization_servers.front();
        if (const auto* x = o.if_contains("audiences")) read_strings(at + "/audiences", *x, a.audiences);
        if (const auto* x = o.if_contains("jwks_file")) a.jwks_file = file_path(at + "/jwks_file", *x);
        if (const auto* x = o.if_contains("jwks_url")) uri(at + "/jwks_url", *x, a.jwks_url);
        if (a.jwks_file.empty() == a.jwks_url.empty())
            error(at, "give the signing keys as exactly one of \"jwks_file\" and \"jwks_url\"");
        if (const auto* x = o.if_contains("jwks_ca_file")) a.jwks_ca_file = file_path(at + "/jwks_ca_file", *x);
        integer(o, at, "jwks_refresh_ms", 1000, 30 * day_ms, a.jwks_refresh_ms);
        integer(o, at, "jwks_min_refresh_ms", 0, day_ms, a.jwks_min_refresh_ms);
        integer(o, at, "leeway_s", 0, 600, a.leeway_s);
        if (const auto* x = o.if_contains("algorithms")) {
            a.algorithms.clear();
            read_strings(at + "/algorithms", *x, a.algorithms);
            for (std::size_t i = 0; i < a.algorithms.size(); ++i)
                if (!one_of(a.algorithms[i], algorithm_names))
                    error(at + "/algorithms/" + std::to_string(i), "expected one of RS256, ES256, EdDSA");
        }
        if (const auto* x = o.if_contains("required_scopes"))
            read_strings(at + "/required_scopes", *x, a.required_scopes);
        if (const auto* x = o.if_contains("scopes"))
            if (const auto* m = object(at + "/scopes", *x))
                for (const auto& [key, v] : *m) {
                    std::vector<std::string> list;
                    read_strings(at + "/scopes/" + std::string(key), v, list);
                    a.scopes.emplace_back(std::string(key), std::move(list));
                }
        if (const auto* x = o.if_contains("scopes_supported"))
            read_strings(at + "/scopes_supported", *x, a.scopes_supported);
        for (const auto& s : a.required_scopes) add_supported(s);
        for (const auto& [key, list] : a.scopes)
            for (const auto& s : list) add_supported(s);
    }

    void add_supported(const std::string& scope) {
        auto& v = s_.oauth.scopes_supported;
        if (std::find(v.begin(), v.end(), scope) == v.end()) v.push_back(scope);
    }

    void read_mcp(const json::object& o) {
        check_keys("/serve/mcp", o,
                   {"tool_name", "page_size", "instructions", "call_timeout_ms", "list_ttl_ms", "list_cache_scope",
                    "request_state_secret", "max_subscriptions", "max_resource_subscriptions"});
        if (const auto* x = o.if_contains("tool_name")) {
            read_string("/serve/mcp/tool_name", *x, s_.tool_name, false);
            if (x->is_string() && s_.tool_name.find("{operation}") == std::string::npos)
                error("/serve/mcp/tool_name",
                      "the template must contain {operation} (it may also contain {tool}), got " + describe_json(*x));
        }
        integer(o, "/serve/mcp", "page_size", 1, 10000, s_.page_size);
        if (const auto* x = o.if_contains("instructions"))
            read_string("/serve/mcp/instructions", *x, s_.instructions, true);
        integer(o, "/serve/mcp", "call_timeout_ms", 0, day_ms, s_.call_timeout_ms);
        integer(o, "/serve/mcp", "list_ttl_ms", 0, day_ms, s_.list_ttl_ms);
        integer(o, "/serve/mcp", "max_subscriptions", 1, 1000000, s_.max_subscriptions);
        integer(o, "/serve/mcp", "max_resource_subscriptions", 1, 100000, s_.max_resource_subscriptions);
        if (const auto* x = o.if_contains("request_state_secret")) {
            read_string("/serve/mcp/request_state_secret", *x, s_.request_state_secret, true);
            if (x->is_string() && !s_.request_state_secret.empty() && s_.request_state_secret.size() < 32)
                error("/serve/mcp/request_state_secret", "must be at least 32 characters (it keys an HMAC), got " +
                                                             std::to_string(s_.request_state_secret.size()));
        }
        if (const auto* x = o.if_contains("list_cache_scope")) {
            read_string("/serve/mcp/list_cache_scope", *x, s_.list_cache_scope, false);
            if (x->is_string() && s_.list_cache_scope != "private" && s_.list_cache_scope != "public")
                error("/serve/mcp/list_cache_scope", "must be \"private\" or \"public\", got " + describe_json(*x));
        }
    }

    // A path in the file, relative to the file (as the core reads plugin_dirs).
    std::string file_path(const std::string& pointer, const json::value& v) {
        auto p = read_path(pointer, v);
        return p ? (base_ / *p).lexically_normal().string() : std::string();
    }

    serve_settings& s_;
    std::filesystem::path base_;

public:
    bool database_set = false;  // "database" was given (an empty string: none, whatever the environment)
};

}  // namespace

boost::system::result<serve_settings, std::vector<json_diagnostic>> load_settings(const host_config& config,
                                                                                  const getenv_function& getenv) {
    serve_settings s;
    std::vector<json_diagnostic> errors;
    settings_reader reader(config, s, errors);
    reader.read(config.serve);
    config_reader::sort(errors);
    // An empty variable counts as unset, as for the host's variables.
    if (auto v = getenv("TOOLHOST_AUTH_TOKEN"); v && !v->empty()) s.auth_token = *v;
    if (auto v = getenv("TOOLHOST_NODE_ID"); v && !v->empty()) {
        if (auto problem = check_node_id(*v); !problem.empty())
            errors.push_back(
                json_diagnostic{"environment", 1, 1, "TOOLHOST_NODE_ID", problem + ", got \"" + *v + "\""});
        s.node_id = *v;
    }
    if (s.node_id.empty()) s.node_id = default_node_id();
    if (auto v = getenv("TOOLHOST_DATABASE_URL"); v && !v->empty() && !reader.database_set) {
        if (auto problem = check_database_url(*v); !problem.empty())
            errors.push_back(json_diagnostic{"environment", 1, 1, "TOOLHOST_DATABASE_URL", problem});
        s.database = *v;
    }
    if (auto v = getenv("TOOLHOST_MCP_STATE_SECRET"); v && !v->empty()) {
        if (v->size() < 32)
            errors.push_back(json_diagnostic{"environment", 1, 1, "TOOLHOST_MCP_STATE_SECRET",
                                             "must be at least 32 characters (it keys an HMAC)"});
        s.request_state_secret = *v;
    }
    if (!errors.empty()) return errors;
    return s;
}

namespace {
// What a node id is made of: no dot, which ends it in a session id.
bool node_id_char(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}
}  // namespace

std::string check_database_url(std::string_view url) {
    if (url.empty() || url.starts_with("postgresql://") || url.starts_with("postgres://")) return {};
    // Never echoed: a URL may hold a password.
    return "must be a PostgreSQL URL (postgresql://user@host:port/database) or empty, got a value that starts with "
           "neither "
           "postgresql:// nor postgres://";
}

std::string check_node_id(std::string_view id) {
    const bool ok = !id.empty() && id.size() <= 32 && std::all_of(id.begin(), id.end(), node_id_char);
    return ok ? std::string() : "expected 1 to 32 letters, digits, '-' or '_'";
}

std::string default_node_id() {
    char name[256] = {};
    std::string id;
    if (::gethostname(name, sizeof name - 1) == 0)
        for (const char* c = name; *c != '\0' && *c != '.' && id.size() < 32; ++c)
            if (node_id_char(*c)) id += *c;
    return id.empty() ? std::string("node") : id;
}

std::string check_https_uri(std::string_view uri) {
    const auto parsed = boost::urls::parse_absolute_uri(uri);
    if (!parsed || !parsed->has_authority() || parsed->host().empty()) return "not an absolute URI with a host";
    if (parsed->has_fragment()) return "a URI with a fragment (#...)";
    if (parsed->scheme_id() == boost::urls::scheme::https) return {};
    const auto host = parsed->host_address();
    if (parsed->scheme_id() == boost::urls::scheme::http &&
        (host == "127.0.0.1" || host == "::1" || host == "[::1]" || host == "localhost"))
        return {};
    return "expected an https URI (http only on loopback)";
}

std::string check_listen_address(std::string_view listen) {
    std::string_view host, port;
    if (listen.starts_with('[')) {
        auto close = listen.find(']');
        if (close == std::string_view::npos) return "an IPv6 address needs a closing ']'";
        host = listen.substr(1, close - 1);
        if (close + 1 >= listen.size() || listen[close + 1] != ':') return "expected [address]:port";
        port = listen.substr(close + 2);
    } else {
        auto colon = listen.rfind(':');
        if (colon == std::string_view::npos) return "expected address:port";
        host = listen.substr(0, colon);
        port = listen.substr(colon + 1);
    }
    if (host.empty()) return "the address is empty";
    boost::system::error_code ec;
    boost::asio::ip::make_address(std::string(host), ec);
    if (ec && host != "localhost") {
        std::string problem = "'";  // built in steps: GCC 12 warns (-Wrestrict) on "'" + std::string(...)
        problem += host;
        problem += "' is not an IP address (or localhost)";
        return problem;
    }
    unsigned p = 0;
    auto [end, perr] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (port.empty() || perr != std::errc() || end != port.data() + port.size() || p > 65535)
        return "the port must be a number from 0 to 65535";
    return {};
}

std::string unauthenticated_exposure(const serve_settings& s) {
    if (!s.auth_token.empty() || s.oauth.enabled() || s.allow_unauthenticated ||
        !check_listen_address(s.listen).empty())
        return {};
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(split_listen_address(s.listen).first, ec);
    if (ec || address.is_loopback()) return {};
    return "refusing to listen on " + s.listen +
           " without authentication: it is not a loopback address, so anyone who reaches it could call every "
           "tool. Set a bearer token (TOOLHOST_AUTH_TOKEN or serve.http.auth_token) or OAuth (serve.http.oauth), or, "
           "when something in front "
           "of the server authenticates its clients, pass --allow-unauthenticated "
           "(serve.http.allow_unauthenticated)";
}

std::pair<std::string, uint16_t> split_listen_address(std::string_view listen) {
    auto colon = listen.rfind(':');
    std::string_view host = listen.substr(0, colon);
    if (host.starts_with('[') && host.ends_with(']')) host = host.substr(1, host.size() - 2);
    unsigned p = 0;
    std::from_chars(listen.data() + colon + 1, listen.data() + listen.size(), p);
    if (host == "localhost") host = "127.0.0.1";
    return {std::string(host), static_cast<uint16_t>(p)};
}

}  // namespace toolhost::serve
