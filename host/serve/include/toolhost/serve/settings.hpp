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

/// How `toolhost serve` offers the tools over MCP (stdio and Streamable HTTP) and REST.
struct serve_settings {
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
    uint64_t shutdown_grace_ms = 10000;  ///< SIGTERM/SIGINT: how long calls in flight may finish
    unsigned io_threads = 0;             ///< network threads; 0: one per two cores, at least one
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
};

namespace serve {

/// Parses and checks config.serve (defaults < file < environment: TOOLHOST_AUTH_TOKEN); every
/// problem is reported as `file:line:col: /serve/...: what is wrong`. Unknown keys are errors.
TOOLHOST_SERVE_API boost::system::result<serve_settings, std::vector<json_diagnostic>> load_settings(
    const host_config& config, const getenv_function& getenv);

/// Checks a listen address ("127.0.0.1:8080", "[::1]:0", "0.0.0.0:80"): empty when fine, else
/// what is wrong.
TOOLHOST_SERVE_API std::string check_listen_address(std::string_view listen);
/// Splits a checked listen address into host (without brackets) and port.
TOOLHOST_SERVE_API std::pair<std::string, uint16_t> split_listen_address(std::string_view listen);
/// Why serving HTTP with these settings is refused: a listen address that is not loopback with
/// neither a bearer token nor allow_unauthenticated. Empty when it is not.
TOOLHOST_SERVE_API std::string unauthenticated_exposure(const serve_settings& s);

}  // namespace serve
}  // namespace toolhost
