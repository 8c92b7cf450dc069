#pragma once
/// MCP over stdio: one session on a pair of file descriptors.

#include <toolhost/serve/export.hpp>
#include <toolhost/serve/mcp.hpp>

#include <chrono>
#include <memory>

namespace toolhost::serve {

/// MCP over stdio: newline-delimited JSON-RPC on a reader fd and a writer fd, one session.
/// run() returns when the reader reaches end of file (after the calls in flight finished or
/// `grace` passed) or stop() was called.
class TOOLHOST_SERVE_API stdio_server {
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
TOOLHOST_SERVE_API int protect_stdout() noexcept;

}  // namespace toolhost::serve
