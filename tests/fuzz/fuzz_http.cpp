// The HTTP request path: the server's own connection (host/serve/src/http/connection) with its
// real routes, MCP sessions and REST calls over the testkit fixture's tools, reading what a client
// sends from one end of a socket pair held in memory by the kernel (no port, no network). The
// input's first byte chooses the server (bit 0: stateless MCP, bit 1: a bearer token required);
// the rest is what the client writes, pipelining, framing and all. The harness feeds it, waits
// until every request it completed has been answered, ends its sending (so a partial request
// meets the end of input) and reads until the server closes.
//
// Checked: nothing crashes or leaks; whatever the server writes begins as an HTTP/1.x response.
// A connection still open 5 s after the input (a call that outlived its client), or quiet for
// 500 ms after it (an event stream that lasts), is closed as stop() closes it.
#include "fuzz_mcp_env.hpp"

#include "http/connection.hpp"
#include "http/server_core.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <array>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace {

namespace asio = boost::asio;
using toolhost::serve::detail::connection;
using toolhost::serve::detail::server_core;

toolhost::serve_settings settings(bool stateless, bool token) {
    toolhost::serve_settings s;
    s.listen = "127.0.0.1:0";  // never started: connections are handed over by the harness
    s.stateless = stateless;
    if (token) s.auth_token = "fuzz-token";
    s.max_request_bytes = 1u << 20;
    s.request_timeout_ms = 300;  // a partial request must not hold the fuzzer long
    s.idle_timeout_ms = 300;
    s.stream_write_timeout_ms = 300;
    s.call_timeout_ms = 200;
    return s;
}

struct http_environment {
    toolhost::fuzz::mcp_environment mcp{"http"};
    asio::io_context io{1};
    asio::executor_work_guard<asio::io_context::executor_type> work = asio::make_work_guard(io);
    std::array<std::unique_ptr<server_core>, 4> servers;

    http_environment() {
        for (unsigned i = 0; i < servers.size(); ++i) {
            servers[i] = std::make_unique<server_core>(*mcp.host, *mcp.server, settings(i & 1u, i & 2u));
            servers[i]->set_ready(true);
        }
    }
    ~http_environment() {
        io.poll();  // late answers to connections that are gone
        for (auto& s : servers) s.reset();
    }
};

void write_some(int fd, std::string_view& rest) {
    if (rest.empty()) return;
    const auto n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) rest.remove_prefix(static_cast<std::size_t>(n));
}

// Reads what the server sent, keeping its beginning; false once it closed its side.
bool read_some(int fd, std::string& head, std::size_t keep) {
    char buf[65536];
    for (;;) {
        const auto n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n == 0) return false;
        if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
        if (head.size() < keep)
            head.append(buf, std::min<std::size_t>(static_cast<std::size_t>(n), keep - head.size()));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static http_environment env;
    // FUZZ_HTTP_VERBOSE=1: what the server answered, on stderr (to see what an input reaches).
    static const bool verbose = std::getenv("FUZZ_HTTP_VERBOSE") != nullptr;
    if (size == 0) return 0;
    server_core& server = *env.servers[data[0] % env.servers.size()];
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);

    int fds[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) std::abort();
    auto c = std::make_shared<connection>(server, env.io);
    boost::system::error_code ec;
    c->socket().assign(asio::ip::tcp::v4(), fds[0], ec);
    if (ec) std::abort();
    c->count_open();
    c->run();

    using clock = std::chrono::steady_clock;
    const auto limit = clock::now() + std::chrono::seconds(5);
    std::string head;
    bool open = true, sending = true;
    int quiet = 0;
    while (open && clock::now() < limit) {
        write_some(fds[1], rest);
        const std::size_t ran = env.io.run_one_for(std::chrono::milliseconds(1)) + env.io.poll();
        open = read_some(fds[1], head, verbose ? 4096 : 16);
        // All sent and every complete request answered: the client ends its sending.
        quiet = (ran == 0 && rest.empty() && server.st_->busy.load() == 0) ? quiet + 1 : 0;
        if (sending && quiet >= 3) {
            ::shutdown(fds[1], SHUT_WR);
            sending = false;
        }
        // Ended, and nothing has happened for longer than the server's own timeouts (300 ms): what
        // is left is an event stream waiting for its next message (a 2026-07-28
        // subscriptions/listen, which a client's half-close does not end). Closed below, as stop()
        // closes it, rather than held to the limit.
        if (!sending && quiet >= 500) break;
    }
    if (verbose) std::fprintf(stderr, "---- %s\n%s\n", open ? "(still open)" : "(closed)", head.c_str());
    if (!head.empty() && !head.starts_with("HTTP/1.1 ") && !head.starts_with("HTTP/1.0 ")) std::abort();
    if (open) {
        // Not closed within the limit (a call still running): closed as stop() would.
        asio::dispatch(env.io, [c] { c->force_close(); });
        env.io.poll();
    }
    c.reset();
    env.io.poll();
    ::close(fds[1]);
    return 0;
}
