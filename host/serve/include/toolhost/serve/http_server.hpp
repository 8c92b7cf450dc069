#pragma once
/// The HTTP server: MCP over Streamable HTTP plus the REST API, health and metrics.

#include <toolhost/serve/settings.hpp>
#include <toolhost/host.hpp>
#include <toolhost/serve/cluster.hpp>
#include <toolhost/serve/export.hpp>
#include <toolhost/serve/mcp.hpp>

#include <boost/json/array.hpp>
#include <boost/system/result.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <utility>
#include <memory>
#include <string>
#include <vector>

namespace toolhost::serve {

/// The HTTP server (Boost.Beast):
///   POST/GET/DELETE /mcp             MCP Streamable HTTP (sessions, JSON or SSE responses)
///   GET  /v1/tools                   the tools, as `toolhost list --json`
///   GET  /v1/tools/{tool}            one tool
///   POST /v1/tools/{tool}/{op}       a call; the body is the arguments, the answer the JSON of
///                                    `toolhost call --json`
///   GET  /healthz, /readyz, /metrics liveness, readiness (tools initialized), Prometheus text
/// Host and Origin are checked against DNS rebinding, an optional bearer token guards everything
/// but the health endpoints, and request size and time are limited. Settings: serve_settings.
class TOOLHOST_SERVE_API http_server {
public:
    http_server(toolhost::host& h, mcp::server& mcp, serve_settings settings);
    ~http_server();  ///< stop(0) if still running
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    /// Binds and starts serving on `threads` I/O threads of its own. The message says what went
    /// wrong (address in use, ...).
    boost::system::result<void, std::string> start(unsigned threads = 1);
    /// The bound port (the real one when settings asked for port 0).
    uint16_t port() const noexcept;
    /// /readyz answers 200 once this is true (503 before): set it when the tools are started.
    void set_ready(bool ready) noexcept;
    /// What `POST /v1/admin/reload` runs (serve::service sets it to its reload()): whether the
    /// configuration was applied, and the answer's JSON object. Without one the route is 404.
    /// Set it before start().
    using reload_handler = std::function<std::pair<bool, boost::json::object>()>;
    void set_reload_handler(reload_handler handler);
    /// Shares the 2025-era MCP sessions through `c` (serve::cluster): written there as they
    /// change, taken over from there when a request names one this server does not hold. Set it
    /// before start(); ignored when serving stateless.
    void set_cluster(std::shared_ptr<cluster> c);
    /// What the console lists as the hosts (serve::service sets it from the cluster's heartbeats):
    /// [{"node", "plugin_set", "seen_ms_ago", "self"}]. Set it before start(); called on an I/O
    /// thread, so it must not block.
    void set_hosts_source(std::function<boost::json::array()> hosts);
    /// Reads the credentials in files again: the TLS certificate and key (serve.http.tls) and
    /// the OAuth key set (serve.http.oauth). What does not load keeps the one in use; the
    /// messages say what (empty: all reloaded). serve::service calls it on every reload.
    std::vector<std::string> reload_credentials();
    /// Graceful stop: stops accepting, answers new requests on open connections with 503, waits
    /// up to `grace` for calls in flight and open responses to finish, then closes everything
    /// and joins the I/O threads. Idempotent.
    void stop(std::chrono::milliseconds grace);
    /// MCP sessions open now.
    std::size_t sessions() const;
    /// Connections open now (those being refused over serve_settings::max_connections excepted).
    std::size_t connections() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

}  // namespace toolhost::serve
