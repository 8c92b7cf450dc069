#pragma once
/// The host configuration: conf/toolhost.json (JSON with comments) plus TOOLHOST_* variables.

#include <toolhost/export.hpp>
#include <toolhost/json_source.hpp>
#include <toolhost/tracing.hpp>

#include <boost/json/object.hpp>
#include <boost/system/result.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost {

/// Settings of one tool from the "tools" section.
/// A "resilience" object of the file (global, per tool or per operation), kept as written and
/// applied over the outer level's policy by apply_resilience() (call_policy.hpp).
struct resilience_settings {
    boost::json::object settings;
    std::string pointer;  ///< e.g. "/tools/rag/resilience"
};

struct tool_settings {
    bool enabled = true;
    boost::json::object config;                     ///< the tool's "config"; empty when absent
    std::string pointer;                            ///< where the tool's entry is, e.g. "/tools/echo", for diagnostics
    std::optional<resilience_settings> resilience;  ///< "resilience"
    std::map<std::string, resilience_settings, std::less<>> operation_resilience;  ///< "operations"/<op>/"resilience"
};

/// The "tracing" section (docs/configuration.md): where spans go and which calls are traced.
struct tracing_settings {
    otlp_options exporter;      ///< otlp_endpoint, service_name, headers, queue, batch and timing
    double sample_ratio = 1.0;  ///< the share of calls without a caller's traceparent that are traced
};

/// The "serve" section (docs/serving.md): how `toolhost serve` offers the tools over MCP
/// (stdio and Streamable HTTP) and REST.
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
    uint64_t shutdown_grace_ms = 10000;          ///< SIGTERM/SIGINT: how long calls in flight may finish
    unsigned io_threads = 0;                     ///< network threads; 0: one per two cores, at least one
    /// "serve.plugin_rescan_ms": how often a running server looks for new plugin files (a .so
    /// dropped into a plugin folder is served within this time); 0: never.
    uint64_t plugin_rescan_ms = 2000;
    // "serve.mcp"
    std::string tool_name = "{tool}_{operation}";  ///< MCP tool names ({tool}, {operation})
    std::size_t page_size = 100;                   ///< tools per tools/list page
    std::string instructions;                      ///< the initialize result's instructions
    uint64_t call_timeout_ms = 0;                  ///< deadline of a tools/call; 0: the tool's policy only
};

/// The effective host configuration (defaults < file < environment).
struct TOOLHOST_API host_config {
    std::filesystem::path file;                      ///< the config file; empty when built from defaults
    std::vector<std::filesystem::path> plugin_dirs;  ///< absolute; file entries first, then TOOLHOST_PLUGIN_PATH
    unsigned threads = 0;                            ///< worker threads; 0 in the file means one per hardware thread
    std::string log_level = "info";                  ///< trace|debug|info|warning|error|off
    std::string log_format = "text";                 ///< text|json
    bool concurrent_init = true;                     ///< initialize tools concurrently
    bool fail_on_error = false;                      ///< a tool that fails to initialize fails start-up
    bool tools_enabled_by_default = true;            ///< whether tools not listed under "tools" are enabled
    std::filesystem::path data_dir = "var";          ///< absolute after loading
    std::map<std::string, tool_settings, std::less<>> tools;  ///< "tools" by tool name
    std::optional<resilience_settings> resilience;            ///< the global "resilience"
    /// "tracing", or TOOLHOST_OTLP_ENDPOINT; empty when no endpoint is configured (tracing off).
    std::optional<tracing_settings> tracing;
    serve_settings serve;                           ///< "serve"
    std::shared_ptr<const json_document> document;  ///< the parsed file; null when built from defaults

    /// A diagnostic at a pointer in the config file ("<defaults>:1:1" when there is no file).
    json_diagnostic error_at(std::string_view pointer, std::string message) const;

    /// Whether the named tool is enabled (its "enabled" entry, else tools_enabled_by_default).
    bool tool_enabled(std::string_view name) const;
};

/// Checks a listen address ("127.0.0.1:8080", "[::1]:0", "0.0.0.0:80"): empty when fine, else
/// what is wrong.
TOOLHOST_API std::string check_listen_address(std::string_view listen);
/// Splits a checked listen address into host (without brackets) and port.
TOOLHOST_API std::pair<std::string, uint16_t> split_listen_address(std::string_view listen);

/// Looks up an environment variable; nullopt when unset.
using getenv_function = std::function<std::optional<std::string>(std::string_view)>;

/// Loads and checks a config file then applies the environment; returns every problem found.
/// Unknown and duplicate keys are errors.
TOOLHOST_API boost::system::result<host_config, std::vector<json_diagnostic>> load_config(
    const std::filesystem::path& file, const getenv_function& getenv);

/// Defaults plus environment only (no file).
TOOLHOST_API boost::system::result<host_config, std::vector<json_diagnostic>> default_config(
    const getenv_function& getenv);

/// The process environment, in the shape load_config() expects.
TOOLHOST_API std::optional<std::string> process_env(std::string_view name);

}  // namespace toolhost
