#pragma once
// What every part of the HTTP server shares: the libraries' names, the limits, the route ids and
// the small text helpers of HTTP (header values, hosts, origins, status codes, SSE framing).

#include <toolhost/serve/http_server.hpp>

#include <toolhost/json_input.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/tool_descriptor.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <toolhost/json_text.hpp>
#include <boost/json/stream_parser.hpp>
#include <boost/url/parse.hpp>

#include <sys/random.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cctype>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <future>
#include <list>
#include <mutex>
#include <random>
#include <shared_mutex>
#include <thread>
#include <unordered_map>

namespace toolhost::serve::detail {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using steady = std::chrono::steady_clock;
using io_executor = asio::io_context::executor_type;  // one thread runs each io_context
using socket_type = asio::basic_stream_socket<tcp, io_executor>;
using timer_type = asio::basic_waitable_timer<steady, asio::wait_traits<steady>, io_executor>;

// ------------------------------------------------------------------------------ limits, names

constexpr std::uint32_t header_limit = 64 * 1024;       // request line and headers (431 above)
constexpr std::size_t read_chunk = 16 * 1024;           // bytes asked for per read
constexpr std::uint64_t refuse_body_limit = 64 * 1024;  // a refused request's body is still read up to this
constexpr std::size_t watch_cap = 64 * 1024;            // pipelined bytes buffered while a response is pending
constexpr std::size_t kept_buffer_limit = 64 * 1024;    // larger buffers are freed when a response is out
constexpr std::int64_t max_refusing = 64;               // 503s for max_connections being written at once
constexpr std::uint64_t linger_cap = 8u << 20;          // bytes drained before closing after an error
constexpr auto linger_time = 1s;                        // time given to drain them
constexpr auto stream_keepalive = 15s;                  // SSE comment interval on GET /mcp

constexpr int jsonrpc_server_error = -32000;  // transport-level errors (as the TypeScript SDK)
constexpr int jsonrpc_session_not_found = -32001;

enum route_id : std::uint8_t {
    r_mcp,
    r_tools,
    r_tool,
    r_call,
    r_healthz,
    r_readyz,
    r_metrics,
    r_breakers,
    r_lifecycle,
    r_features,  // resources, prompts, completion
    r_admin,     // the operator's console: /admin, /v1/admin/status, /
    r_other,
    r_count
};
constexpr std::string_view route_names[r_count] = {"mcp",     "tools",    "tool",      "call",     "healthz", "readyz",
                                                   "metrics", "breakers", "lifecycle", "features", "admin",   "other"};

inline char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

inline bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string to_lower(std::string_view s);

inline std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool all_digits(std::string_view s) noexcept;

// A session id: "<node_id>.", then 128 random bits as 32 hex digits, from the kernel's generator
// (the node id tells a load balancer which host holds the session; serving.md).
std::string random_session_id(std::string_view node_id);

// Whether a Content-Type is application/json, in any case, with or without parameters.
bool is_json_media_type(std::string_view content_type) noexcept;

struct accepted_types {
    bool json = false;
    bool sse = false;
};

// Which of application/json and text/event-stream an Accept header allows. Missing or empty:
// both. Wildcards count; a range with q=0 does not.
accepted_types parse_accept(std::string_view accept);

// A Host header or allowed_hosts entry split into a lower-case name (IPv6 in brackets) and port.
struct host_port {
    std::string name;
    std::string port;  // empty: none
    bool valid = false;
};

host_port split_host(std::string_view h);

bool is_loopback_name(std::string_view lower_name) noexcept;

// http(s)://(localhost|127.0.0.1|[::1])(:port)?
bool is_loopback_origin(std::string_view origin);

std::string normalize_origin(std::string_view origin);

// Whether an Origin header names the server a request with this Host header was sent to: the
// same host and port (the scheme's default when none is written).
bool same_origin(std::string_view origin, std::string_view host);

// The HTTP status for a call's error code (REST, docs/serving.md). FAILED_PRECONDITION is 412:
// the request was fine, the state of the tool or its data is not (a tool that failed to start).
unsigned http_status_for(status_code c) noexcept;

// The status code name used in REST error bodies for errors of the HTTP layer itself.
std::string_view code_for_http_status(unsigned s) noexcept;

// A request's body as JSON (toolhost::parse_json_input): one linear pass, `max_depth` levels
// (serve.json_max_depth). The error reads "<what> is not valid JSON: <reason> at offset <n>".
boost::system::result<json::value, std::string> parse_json_body(std::string_view what, std::string_view body,
                                                                std::size_t max_depth);

// One SSE event: "id: <n>", a data line per line of the message, a blank line.
void append_event(std::string& out, std::uint64_t id, std::string_view data);

void append_chunk(std::string& out, std::string_view payload);

}  // namespace toolhost::serve::detail
