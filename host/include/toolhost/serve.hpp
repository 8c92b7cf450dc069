#pragma once
/// Serving the tools: MCP over Streamable HTTP plus the REST API, health and metrics
/// (http_server), and MCP over stdio (stdio_server). `toolhost serve` runs either or both.

#include <toolhost/config.hpp>
#include <toolhost/host.hpp>
#include <toolhost/mcp.hpp>

#include <boost/system/result.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

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
class http_server {
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
    /// Graceful stop: stops accepting, answers new requests on open connections with 503, waits
    /// up to `grace` for calls in flight and open responses to finish, then closes everything
    /// and joins the I/O threads. Idempotent.
    void stop(std::chrono::milliseconds grace);
    /// MCP sessions open now.
    std::size_t sessions() const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// MCP over stdio: newline-delimited JSON-RPC on a reader fd and a writer fd, one session.
/// run() returns when the reader reaches end of file (after the calls in flight finished or
/// `grace` passed) or stop() was called.
class stdio_server {
public:
    stdio_server(mcp::server& mcp, int in_fd, int out_fd);
    ~stdio_server();
    stdio_server(const stdio_server&) = delete;
    stdio_server& operator=(const stdio_server&) = delete;

    void run(std::chrono::milliseconds grace);
    /// Makes run() return soon (from another thread or a signal-handling thread).
    void stop() noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// Moves the process's stdout out of the plugins' reach: returns a new descriptor for the
/// original stdout (close-on-exec) and points descriptor 1 at stderr, so whatever a plugin
/// prints lands in the log stream instead of the protocol stream. -1 with errno on failure.
int protect_stdout() noexcept;

}  // namespace toolhost::serve
