#pragma once
/// The "serve" section of the config file (docs/serving.md), parsed by serving: the core keeps
/// it as written (host_config::serve).

#include <toolhost/config.hpp>
#include <toolhost/json_input.hpp>
#include <toolhost/serve/export.hpp>

#include <boost/system/result.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace toolhost {

/// "serve.http.oauth": `toolhost serve --http` as an OAuth 2.1 resource server (MCP
/// authorization; docs/security.md). Bearer JWTs signed by the authorization server are checked
/// against its published keys; off while `resource` is empty.
struct oauth_settings {
    /// The canonical URI of the MCP endpoint as clients reach it ("https://tools.example.com/mcp"):
    /// tokens must name it in "aud", and the metadata document is served for it.
    std::string resource;
    std::vector<std::string> authorization_servers;  ///< issuers a client may get tokens from (1+)
    std::string issuer;                              ///< "iss" of accepted tokens; default: the first server
    std::vector<std::string> audiences;              ///< "aud" values accepted besides `resource`
    std::string jwks_file;                           ///< the keys, from a file (re-read when it changes) ...
    std::string jwks_url;                            ///< ... or fetched (https; http only on loopback)
    std::string jwks_ca_file;                        ///< CA certificates for jwks_url; default: the system's
    uint64_t jwks_refresh_ms = 3600000;              ///< the key set is fetched again this often
    uint64_t jwks_min_refresh_ms = 10000;            ///< an unknown "kid" fetches again at most this often
    uint64_t leeway_s = 60;                          ///< clock skew allowed on "exp" and "nbf"
    std::vector<std::string> algorithms{"RS256", "ES256", "EdDSA"};
    std::vector<std::string> required_scopes;  ///< every request needs all of them
    /// "tool" or "tool.operation" -> scopes a call needs (all of them; the operation's entry adds
    /// to the tool's).
    std::vector<std::pair<std::string, std::vector<std::string>>> scopes;
    std::vector<std::string> scopes_supported;  ///< announced; default: every scope named above
    bool enabled() const noexcept { return !resource.empty(); }
};

/// A token bucket: `per_second` on average, up to `burst` at once. per_second 0: no limit.
struct rate_setting {
    double per_second = 0;
    double burst = 0;  ///< 0: one second's worth (at least 1)
};

/// "serve.http.rate_limit": per client (the OAuth client or subject, the static token, else the
/// remote address); a refused request gets 429 with Retry-After.
struct rate_limit_settings {
    rate_setting requests;                                    ///< every request but health and metrics
    std::vector<std::pair<std::string, rate_setting>> tools;  ///< "tool" -> its calls
    std::size_t max_clients = 100000;                         ///< buckets kept (idle ones are dropped first)
};

/// "serve.http.tls": HTTPS instead of HTTP (docs/security.md). The files are read when the
/// server starts and again on SIGHUP or POST /v1/admin/reload; a pair that does not load then
/// leaves the one in use in place.
struct tls_settings {
    std::string certificate;          ///< PEM: the server's certificate, then its chain
    std::string private_key;          ///< PEM: its private key (not encrypted)
    std::string min_version = "1.2";  ///< "1.2" or "1.3"
    bool enabled() const noexcept { return !certificate.empty(); }
};

/// How `toolhost serve` offers the tools over MCP (stdio and Streamable HTTP) and REST.
struct serve_settings {
    /// "serve.node_id" (TOOLHOST_NODE_ID): this host among several. MCP session ids start with it
    /// ("<node_id>.<32 hex digits>"), so that a load balancer can send a session's requests to
    /// the host that holds it; /readyz and the console show it. Default: the host name (up to its
    /// first dot, letters, digits, '-' and '_' only).
    std::string node_id;
    /// "serve.database" (else TOOLHOST_DATABASE_URL): the PostgreSQL database several hosts
    /// share (docs/deployment.md): 2025-era MCP sessions live there too, and tool list changes
    /// travel through it. Empty: this host alone (an empty "serve.database" says so even when
    /// the variable is set, which the tools may still use for their storage).
    std::string database;
    // "serve.http"
    std::string listen = "127.0.0.1:8080";  ///< address:port; [v6]:port; port 0 picks one
    /// Host header values accepted besides the loopback names (localhost, 127.0.0.1, [::1]) and
    /// the listen address, with or without a port. DNS-rebinding protection: others get 403.
    std::vector<std::string> allowed_hosts;
    /// Origin header values accepted besides loopback origins (http(s)://localhost[:port], ...).
    /// A request without Origin (not from a browser) is accepted.
    std::vector<std::string> allowed_origins;
    /// When set, every request but /healthz and /readyz needs "Authorization: Bearer <token>".
    /// TOOLHOST_AUTH_TOKEN overrides the file.
    std::string auth_token;
    bool stateless = false;                      ///< no MCP sessions (several hosts behind a load balancer)
    std::size_t max_request_bytes = 4u << 20;    ///< request body limit (413 above it)
    uint64_t request_timeout_ms = 30000;         ///< time to receive one request's header and body
    uint64_t idle_timeout_ms = 120000;           ///< a keep-alive connection with no request is closed
    uint64_t session_idle_timeout_ms = 1800000;  ///< an MCP session unused this long ends
    std::size_t max_sessions = 10000;            ///< more live sessions: initialize gets 503
    /// Live sessions one client may hold (more: initialize gets 429). A client is its bearer token
    /// when a token is configured (every holder of the one static token is one client), else its
    /// remote address (an IPv6 address by its /64).
    std::size_t max_sessions_per_client = 100;
    /// Open connections; more are answered 503 and closed. 0: three quarters of the open-file limit
    /// (RLIMIT_NOFILE) when the server starts.
    std::size_t max_connections = 0;
    /// SSE bytes queued for a client that does not read them (a stream's unsent backlog); more and
    /// the stream is closed.
    std::size_t max_stream_backlog_bytes = 16u << 20;
    /// A stream whose client takes none of the bytes being written to it for this long is closed.
    uint64_t stream_write_timeout_ms = 30000;
    /// Serve on an address that is not loopback without a bearer token. Without it the server
    /// refuses to start there (`--allow-unauthenticated`).
    bool allow_unauthenticated = false;
    /// The operator's console: GET /admin (the page) and GET /v1/admin/status (what it shows),
    /// behind the same authentication as everything else (docs/operations.md).
    bool console = true;
    uint64_t shutdown_grace_ms = 10000;  ///< SIGTERM/SIGINT: how long calls in flight may finish
    /// SIGTERM/SIGINT: /readyz answers 503 at once; for this long everything else is still served
    /// as usual (so that a load balancer's readiness checks take the host out first), then the
    /// stop proper (no new connections, calls in flight get shutdown_grace_ms). 0: no delay.
    uint64_t drain_delay_ms = 0;
    unsigned io_threads = 0;  ///< network threads; 0: one per two cores, at least one
    /// The live plugin folder (serve::plugin_watcher). "serve.plugin_rescan_ms": where inotify is
    /// not available, how often the plugin folders are rescanned; 0 turns the live folder off
    /// (new, replaced and removed files then need a restart).
    uint64_t plugin_rescan_ms = 2000;
    /// "serve.plugin_quiet_ms": a change is acted on once the folder was quiet this long.
    uint64_t plugin_quiet_ms = 200;
    /// "serve.plugin_safety_scan_ms": with inotify, a full rescan this often all the same; 0: never.
    uint64_t plugin_safety_scan_ms = 60000;
    /// "serve.json_max_depth": how deep arrays and objects may nest in what a client sends (an
    /// MCP message over stdio or HTTP, a REST body); deeper input is refused as not valid JSON.
    std::size_t json_max_depth = default_json_max_depth;
    // "serve.mcp"
    std::string tool_name = "{tool}_{operation}";  ///< MCP tool names ({tool}, {operation})
    std::size_t page_size = 100;                   ///< tools per tools/list page
    std::string instructions;                      ///< the initialize result's instructions
    uint64_t call_timeout_ms = 0;                  ///< deadline of a tools/call; 0: the tool's policy only
    uint64_t list_ttl_ms = 0;                      ///< 2026-07-28 ttlMs of server/discover and tools/list
    std::string list_cache_scope = "private";      ///< their cacheScope: "private" or "public"
    std::string request_state_secret;              ///< keys 2026-07-28 requestState; "": random per process
    std::size_t max_subscriptions = 1024;          ///< open 2026-07-28 subscriptions/listen at most
    std::size_t max_resource_subscriptions = 100;  ///< resources a session or subscription watches at most
    oauth_settings oauth;                          ///< "serve.http.oauth"
    rate_limit_settings rate_limit;                ///< "serve.http.rate_limit"
    tls_settings tls;                              ///< "serve.http.tls"
};

namespace serve {

/// Parses and checks config.serve (defaults < file < environment: TOOLHOST_AUTH_TOKEN); every
/// problem is reported as `file:line:col: /serve/...: what is wrong`. Unknown keys are errors.
TOOLHOST_SERVE_API boost::system::result<serve_settings, std::vector<json_diagnostic>> load_settings(
    const host_config& config, const getenv_function& getenv);

/// Checks a node id: 1 to 32 letters, digits, '-' or '_'. Empty when fine, else what is wrong.
TOOLHOST_SERVE_API std::string check_node_id(std::string_view id);
/// What is wrong with a serve.database value (never repeating it: it may hold a password); empty
/// when it is a postgresql:// or postgres:// URL, or empty.
TOOLHOST_SERVE_API std::string check_database_url(std::string_view url);
/// The host name as a node id (up to its first dot, without characters a node id cannot hold);
/// "node" when nothing is left.
TOOLHOST_SERVE_API std::string default_node_id();
/// Checks a listen address ("127.0.0.1:8080", "[::1]:0", "0.0.0.0:80"): empty when fine, else
/// what is wrong.
TOOLHOST_SERVE_API std::string check_listen_address(std::string_view listen);
/// Checks a URI the OAuth settings name: absolute, https (http only for 127.0.0.1, [::1] and
/// localhost), no fragment. Empty when fine, else what is wrong.
TOOLHOST_SERVE_API std::string check_https_uri(std::string_view uri);
/// Splits a checked listen address into host (without brackets) and port.
TOOLHOST_SERVE_API std::pair<std::string, uint16_t> split_listen_address(std::string_view listen);
/// Why serving HTTP with these settings is refused: a listen address that is not loopback with
/// neither a bearer token nor allow_unauthenticated. Empty when it is not.
TOOLHOST_SERVE_API std::string unauthenticated_exposure(const serve_settings& s);

}  // namespace serve
}  // namespace toolhost
