// The "serve" section (docs/serving.md): checked with the core's config_reader, so that its
// messages read like every other section's.
#include <toolhost/config_reader.hpp>
#include <toolhost/serve/settings.hpp>

#include <boost/asio/ip/address.hpp>

#include <charconv>

namespace toolhost::serve {
namespace {

namespace json = boost::json;
constexpr std::uint64_t day_ms = 86400000;

class settings_reader : config_reader {
public:
    settings_reader(const host_config& config, serve_settings& s, std::vector<json_diagnostic>& errors)
        : config_reader(config.document.get(), errors), s_(s) {}

    void read(const json::object& obj) {
        check_keys("/serve", obj,
                   {"http", "mcp", "plugin_rescan_ms", "plugin_quiet_ms", "plugin_safety_scan_ms", "json_max_depth"});
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
                   {"listen", "allowed_hosts", "allowed_origins", "auth_token", "stateless", "max_request_bytes",
                    "request_timeout_ms", "idle_timeout_ms", "session_idle_timeout_ms", "max_sessions",
                    "shutdown_grace_ms", "io_threads", "max_sessions_per_client", "max_connections",
                    "max_stream_backlog_bytes", "stream_write_timeout_ms", "allow_unauthenticated"});
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
        integer(o, "/serve/http", "io_threads", 0, 256, s_.io_threads);
        integer(o, "/serve/http", "max_sessions_per_client", 1, 10000000, s_.max_sessions_per_client);
        integer(o, "/serve/http", "max_connections", 0, 10000000, s_.max_connections);
        integer(o, "/serve/http", "max_stream_backlog_bytes", 4096, std::uint64_t(1) << 30,
                s_.max_stream_backlog_bytes);
        integer(o, "/serve/http", "stream_write_timeout_ms", 1, day_ms, s_.stream_write_timeout_ms);
        if (const auto* x = o.if_contains("allow_unauthenticated"))
            read_bool("/serve/http/allow_unauthenticated", *x, s_.allow_unauthenticated);
    }

    void read_mcp(const json::object& o) {
        check_keys("/serve/mcp", o, {"tool_name", "page_size", "instructions", "call_timeout_ms"});
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
    }

    serve_settings& s_;
};

}  // namespace

boost::system::result<serve_settings, std::vector<json_diagnostic>> load_settings(const host_config& config,
                                                                                  const getenv_function& getenv) {
    serve_settings s;
    std::vector<json_diagnostic> errors;
    settings_reader(config, s, errors).read(config.serve);
    config_reader::sort(errors);
    // An empty variable counts as unset, as for the host's variables.
    if (auto v = getenv("TOOLHOST_AUTH_TOKEN"); v && !v->empty()) s.auth_token = *v;
    if (!errors.empty()) return errors;
    return s;
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
    if (!s.auth_token.empty() || s.allow_unauthenticated || !check_listen_address(s.listen).empty()) return {};
    boost::system::error_code ec;
    const auto address = boost::asio::ip::make_address(split_listen_address(s.listen).first, ec);
    if (ec || address.is_loopback()) return {};
    return "refusing to listen on " + s.listen +
           " without authentication: it is not a loopback address, so anyone who reaches it could call every "
           "tool. Set a bearer token (TOOLHOST_AUTH_TOKEN or serve.http.auth_token), or, when something in front "
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
