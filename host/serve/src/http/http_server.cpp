// The HTTP server of `toolhost serve` (serve.hpp): MCP Streamable HTTP on /mcp, the REST API on
// /v1/tools, health, readiness and metrics. Boost.Beast parsers and serializers on Asio sockets.
//
// Threads and ownership
// - Every I/O thread runs an io_context of its own, and every connection belongs to one of them
//   (round robin at accept): its socket, timer and all of its state are touched on that thread
//   only (and from the stopping thread once the I/O threads have been joined). No strands: a
//   connection's handlers are serial because its io_context has one thread, and a request
//   costs no strand queue. The first io_context also runs the acceptor and the session sweep.
// - The MCP engine and the host answer on their own threads (workers) through an exchange, a
//   standalone stream or a call completion. Those hold only a weak reference to the connection
//   and post to its io_context under the "gate" (a shared lock on shared_state::gate_m): stop()
//   closes the gate before the io_context goes away, so nothing is ever posted to a dead one,
//   and nothing that owns a socket is released off the gate after that.
// - A connection stays alive through its pending operations (read, write, timer) and, while it
//   waits for an answer from another thread, through a reference to itself (self_hold_) that
//   the answer, a disconnect or stop() releases.
// - stop() waits for "busy" tokens: one per request from the moment it is read until its
//   response is written, one per MCP message handed to the engine until finish(), one per REST
//   call until its completion.
#include <toolhost/serve/http_server.hpp>
#include <toolhost/serve/failure_json.hpp>

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
#include <boost/json/serialize.hpp>
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

namespace toolhost::serve {

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

namespace {

// ------------------------------------------------------------------------------ limits, names

constexpr std::uint32_t header_limit = 64 * 1024;      // request line and headers (431 above)
constexpr std::size_t read_chunk = 16 * 1024;           // bytes asked for per read
constexpr std::uint64_t refuse_body_limit = 64 * 1024;  // a refused request's body is still read up to this
constexpr std::size_t watch_cap = 64 * 1024;            // pipelined bytes buffered while a response is pending
constexpr std::size_t stream_backlog_cap = 16u << 20;   // unsent SSE bytes before a client counts as gone
constexpr std::uint64_t linger_cap = 8u << 20;          // bytes drained before closing after an error
constexpr auto linger_time = 1s;                        // time given to drain them
constexpr auto stream_keepalive = 15s;                  // SSE comment interval on GET /mcp
constexpr int json_max_depth = 256;

constexpr int jsonrpc_server_error = -32000;       // transport-level errors (as the TypeScript SDK)
constexpr int jsonrpc_session_not_found = -32001;

enum route_id : std::uint8_t { r_mcp, r_tools, r_tool, r_call, r_healthz, r_readyz, r_metrics, r_breakers, r_other, r_count };
constexpr std::string_view route_names[r_count] = {"mcp",     "tools",   "tool",    "call",    "healthz",
                                                   "readyz",  "metrics", "breakers", "other"};

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (lower(a[i]) != lower(b[i])) return false;
    return true;
}

std::string to_lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = lower(c);
    return out;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

bool all_digits(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Compares without an early exit, so the time taken does not tell how much of a token matched.
bool constant_time_equal(std::string_view a, std::string_view b) noexcept {
    const std::size_t n = std::max(a.size(), b.size());
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (std::size_t i = 0; i < n; ++i) {
        const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
        const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
        diff |= static_cast<unsigned char>(x ^ y);
    }
    return diff == 0;
}

// 128 random bits as 32 hex digits, from the kernel's generator.
std::string random_session_id() {
    std::array<unsigned char, 16> bytes{};
    std::size_t got = 0;
    while (got < bytes.size()) {
        const ssize_t n = ::getrandom(bytes.data() + got, bytes.size() - got, 0);
        if (n <= 0) break;
        got += static_cast<std::size_t>(n);
    }
    if (got < bytes.size()) {
        std::random_device rd;
        for (auto& b : bytes) b = static_cast<unsigned char>(rd());
    }
    static constexpr char hex[] = "0123456789abcdef";
    std::string id(32, '0');
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        id[2 * i] = hex[bytes[i] >> 4];
        id[2 * i + 1] = hex[bytes[i] & 15];
    }
    return id;
}

// Whether a Content-Type is application/json, in any case, with or without parameters.
bool is_json_media_type(std::string_view content_type) noexcept {
    return iequals(trim(content_type.substr(0, content_type.find(';'))), "application/json");
}

struct accepted_types {
    bool json = false;
    bool sse = false;
};

// Which of application/json and text/event-stream an Accept header allows. Missing or empty:
// both. Wildcards count; a range with q=0 does not.
accepted_types parse_accept(std::string_view accept) {
    accepted_types a;
    if (trim(accept).empty()) return {true, true};
    while (!accept.empty()) {
        const auto comma = accept.find(',');
        std::string_view item = accept.substr(0, comma);
        accept = comma == std::string_view::npos ? std::string_view() : accept.substr(comma + 1);
        std::string_view range = trim(item.substr(0, item.find(';')));
        bool refused = false;
        for (auto params = item.find(';'); params != std::string_view::npos;) {
            std::string_view rest = item.substr(params + 1);
            const auto next = rest.find(';');
            const std::string_view p = trim(rest.substr(0, next));
            if (p.size() >= 2 && lower(p[0]) == 'q' && p[1] == '=') {
                const std::string_view q = trim(p.substr(2));
                refused = !q.empty() && std::all_of(q.begin(), q.end(), [](char c) { return c == '0' || c == '.'; });
            }
            params = next == std::string_view::npos ? std::string_view::npos : params + 1 + next;
        }
        if (refused) continue;
        if (iequals(range, "*/*")) a.json = a.sse = true;
        else if (iequals(range, "application/*") || iequals(range, "application/json")) a.json = true;
        else if (iequals(range, "text/*") || iequals(range, "text/event-stream")) a.sse = true;
    }
    return a;
}

// A Host header or allowed_hosts entry split into a lower-case name (IPv6 in brackets) and port.
struct host_port {
    std::string name;
    std::string port;  // empty: none
    bool valid = false;
};

host_port split_host(std::string_view h) {
    host_port r;
    h = trim(h);
    if (h.empty()) return r;
    std::string_view name, port;
    if (h.front() == '[') {
        const auto close = h.find(']');
        if (close == std::string_view::npos) return r;
        name = h.substr(0, close + 1);
        const std::string_view rest = h.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':') return r;
            port = rest.substr(1);
        }
    } else {
        const auto colon = h.rfind(':');
        name = h.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = h.substr(colon + 1);
            if (name.find(':') != std::string_view::npos) return r;  // a bare IPv6 address
        }
    }
    if (name.empty() || (!port.empty() && !all_digits(port))) return r;
    if (h.find(':') != std::string_view::npos && port.empty() && h.back() == ':') return r;
    r.name = to_lower(name);
    r.port = std::string(port);
    r.valid = true;
    return r;
}

bool is_loopback_name(std::string_view lower_name) noexcept {
    return lower_name == "localhost" || lower_name == "127.0.0.1" || lower_name == "[::1]";
}

// http(s)://(localhost|127.0.0.1|[::1])(:port)?
bool is_loopback_origin(std::string_view origin) {
    std::string o = to_lower(trim(origin));
    std::string_view rest = o;
    if (rest.starts_with("http://")) rest.remove_prefix(7);
    else if (rest.starts_with("https://")) rest.remove_prefix(8);
    else return false;
    if (rest.ends_with('/')) rest.remove_suffix(1);
    const host_port hp = split_host(rest);
    return hp.valid && is_loopback_name(hp.name);
}

std::string normalize_origin(std::string_view origin) {
    std::string o = to_lower(trim(origin));
    while (o.size() > 1 && o.back() == '/') o.pop_back();
    return o;
}

// The HTTP status for a call's error code (REST, docs/serving.md). FAILED_PRECONDITION is 412:
// the request was fine, the state of the tool or its data is not (a tool that failed to start).
unsigned http_status_for(status_code c) noexcept {
    switch (c) {
    case status_code::ok: return 200;
    case status_code::invalid_argument:
    case status_code::out_of_range: return 400;
    case status_code::failed_precondition: return 412;
    case status_code::unauthenticated: return 401;
    case status_code::permission_denied: return 403;
    case status_code::not_found: return 404;
    case status_code::already_exists:
    case status_code::aborted: return 409;
    case status_code::resource_exhausted: return 429;
    case status_code::cancelled: return 499;
    case status_code::unimplemented: return 501;
    case status_code::unavailable: return 503;
    case status_code::deadline_exceeded: return 504;
    default: return 500;
    }
}

// The status code name used in REST error bodies for errors of the HTTP layer itself.
std::string_view code_for_http_status(unsigned s) noexcept {
    switch (s) {
    case 401: return "UNAUTHENTICATED";
    case 403: return "PERMISSION_DENIED";
    case 404: return "NOT_FOUND";
    case 405: return "UNIMPLEMENTED";
    case 408: return "DEADLINE_EXCEEDED";
    case 409: return "ALREADY_EXISTS";
    case 413:
    case 431:
    case 429: return "RESOURCE_EXHAUSTED";
    case 503: return "UNAVAILABLE";
    case 500: return "INTERNAL";
    default: return "INVALID_ARGUMENT";
    }
}


json::parse_options parse_opts() {
    json::parse_options o;
    o.max_depth = json_max_depth;
    return o;
}

// Where parsing `text` fails: the offset of the first byte that cannot be part of a JSON
// document (the length when the text just ends too early). Only on the error path.
std::size_t json_error_offset(std::string_view text) {
    auto fails = [&](std::size_t len) {
        json::stream_parser p({}, parse_opts());
        json::error_code ec;
        p.write(text.data(), len, ec);
        return static_cast<bool>(ec);
    };
    if (!fails(text.size())) return text.size();
    std::size_t ok = 0, bad = text.size();  // prefix `ok` parses so far, prefix `bad` fails
    while (bad - ok > 1) {
        const std::size_t mid = ok + (bad - ok) / 2;
        (fails(mid) ? bad : ok) = mid;
    }
    return bad - 1;
}

std::string json_error_message(std::string_view what, std::string_view text, const json::error_code& ec) {
    return std::string(what) + " is not valid JSON: " + ec.message() + " at offset " +
           std::to_string(json_error_offset(text));
}

// The request fields the server reads, found in one pass over the fields (the first of a name
// counts) instead of a tree lookup each. Views into the message they were read from.
struct request_fields {
    std::optional<std::string_view> host, origin, session_id, protocol_version, request_id, client_session_id,
        traceparent, timeout_ms;
    std::string_view expect, authorization, accept, content_type;

    template <class Fields>
    static request_fields of(const Fields& fields) {
        request_fields r;
        auto first = [](std::optional<std::string_view>& slot, std::string_view v) {
            if (!slot) slot = v;
        };
        auto first_sv = [](std::string_view& slot, bool& seen, std::string_view v) {
            if (!seen) slot = v, seen = true;
        };
        bool seen_expect = false, seen_auth = false, seen_accept = false, seen_type = false;
        for (const auto& f : fields) {
            switch (f.name()) {
            case bhttp::field::host: first(r.host, f.value()); break;
            case bhttp::field::origin: first(r.origin, f.value()); break;
            case bhttp::field::expect: first_sv(r.expect, seen_expect, f.value()); break;
            case bhttp::field::authorization: first_sv(r.authorization, seen_auth, f.value()); break;
            case bhttp::field::accept: first_sv(r.accept, seen_accept, f.value()); break;
            case bhttp::field::content_type: first_sv(r.content_type, seen_type, f.value()); break;
            case bhttp::field::unknown: {
                const std::string_view n = f.name_string();
                if (iequals(n, "Mcp-Session-Id")) first(r.session_id, f.value());
                else if (iequals(n, "MCP-Protocol-Version")) first(r.protocol_version, f.value());
                else if (iequals(n, "X-Request-Id")) first(r.request_id, f.value());
                else if (iequals(n, "X-Session-Id")) first(r.client_session_id, f.value());
                else if (iequals(n, "traceparent")) first(r.traceparent, f.value());
                else if (iequals(n, "X-Timeout-Ms")) first(r.timeout_ms, f.value());
                break;
            }
            default: break;
            }
        }
        return r;
    }
};

// A response that is not a stream: status, header fields and body, written as one gather write
// of a head built by hand and the body. Beast's serializer did the same through a generic
// buffer sequence and a field tree, which cost a measurable share of a request (docs/performance.md).
class response {
public:
    void reset(bhttp::status s) {
        status_ = static_cast<unsigned>(s);
        fields_.clear();
        body_.clear();
    }
    // Appends a field; the caller sets each name once. A CR or LF in a value (the values come
    // from the server or from fields the request parser accepted) becomes a space.
    void set(std::string_view name, std::string_view value) {
        fields_ += name;
        fields_ += ": ";
        const std::size_t at = fields_.size();
        fields_ += value;
        for (std::size_t i = at; i < fields_.size(); ++i)
            if (fields_[i] == '\r' || fields_[i] == '\n') fields_[i] = ' ';
        fields_ += "\r\n";
    }
    std::string& body() noexcept { return body_; }
    unsigned status() const noexcept { return status_; }

    // The status line, the fields, Content-Length (none on 1xx, 204 and 304, as RFC 9110 says)
    // and Connection when it differs from the version's default; then the two buffers to write.
    std::array<asio::const_buffer, 2> buffers(unsigned version, bool keep_alive) {
        head_.clear();
        head_ += version >= 11 ? "HTTP/1.1 " : "HTTP/1.0 ";
        char num[24];
        head_.append(num, std::to_chars(num, num + sizeof num, status_).ptr);
        head_ += ' ';
        const auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status_));
        head_.append(reason.data(), reason.size());
        head_ += "\r\n";
        head_ += fields_;
        if (status_ >= 200 && status_ != 204 && status_ != 304) {
            head_ += "Content-Length: ";
            head_.append(num, std::to_chars(num, num + sizeof num, body_.size()).ptr);
            head_ += "\r\n";
        }
        if (version >= 11 && !keep_alive) head_ += "Connection: close\r\n";
        if (version < 11 && keep_alive) head_ += "Connection: keep-alive\r\n";
        head_ += "\r\n";
        return {asio::buffer(head_), asio::buffer(body_)};
    }

private:
    unsigned status_ = 200;
    std::string fields_;  // "Name: value\r\n" lines
    std::string body_;
    std::string head_;    // kept, like the others, so that its capacity is reused
};

// One SSE event: "id: <n>", a data line per line of the message, a blank line.
void append_event(std::string& out, std::uint64_t id, std::string_view data) {
    out += "id: ";
    out += std::to_string(id);
    out += '\n';
    for (;;) {
        const auto nl = data.find('\n');
        std::string_view line = data.substr(0, nl);
        if (line.ends_with('\r')) line.remove_suffix(1);
        out += "data: ";
        out += line;
        out += '\n';
        if (nl == std::string_view::npos) break;
        data.remove_prefix(nl + 1);
    }
    out += '\n';
}

void append_chunk(std::string& out, std::string_view payload) {
    char size[20];
    auto [end, ec] = std::to_chars(size, size + sizeof size, payload.size(), 16);
    (void)ec;
    out.append(size, end);
    out += "\r\n";
    out += payload;
    out += "\r\n";
}

// ----------------------------------------------------------------------------- shared state

// What outlives the server: the exchanges, streams and call completions handed to other
// threads hold it, never the server itself.
struct shared_state {
    std::shared_mutex gate_m;  // shared: posting to a connection; exclusive: closing the gate
    bool open = true;

    std::atomic<std::int64_t> busy{0};
    std::atomic<bool> stopping{false};
    std::mutex wait_m;
    std::condition_variable wait_cv;

    std::atomic<std::int64_t> connections{0};
    std::atomic<std::int64_t> sessions{0};
    std::atomic<std::uint64_t> next_event_id{0};
    std::atomic<std::uint64_t> next_seq{0};

    void acquire() noexcept { busy.fetch_add(1); }
    void release() noexcept {
        // seq_cst on both sides: either stop() sees 0 or this sees stopping and notifies.
        if (busy.fetch_sub(1) == 1 && stopping.load()) {
            { std::lock_guard l(wait_m); }
            wait_cv.notify_all();
        }
    }
};

class busy_token {
public:
    busy_token() = default;
    explicit busy_token(std::shared_ptr<shared_state> st) : st_(std::move(st)) { st_->acquire(); }
    busy_token(busy_token&& o) noexcept : st_(std::move(o.st_)) {}
    busy_token& operator=(busy_token&& o) noexcept {
        if (this != &o) {
            reset();
            st_ = std::move(o.st_);
        }
        return *this;
    }
    busy_token(const busy_token&) = delete;
    busy_token& operator=(const busy_token&) = delete;
    ~busy_token() { reset(); }
    void reset() noexcept {
        if (auto s = std::move(st_)) s->release();
    }
    explicit operator bool() const noexcept { return st_ != nullptr; }

private:
    std::shared_ptr<shared_state> st_;
};

class connection;
class server_core;

// The connection whose thread is running session::handle() on this thread right now: an
// exchange called back from inside handle() delivers directly instead of posting.
thread_local connection* tls_handling = nullptr;

// One MCP session known to the server, with its GET stream.
struct session_entry {
    std::shared_ptr<mcp::session> session;
    std::mutex m;
    std::weak_ptr<connection> stream;  // the GET /mcp stream
    std::uint64_t stream_seq = 0;      // non-zero while one is registered
};

// ----------------------------------------------------------------------------- server core

class server_core {
public:
    server_core(toolhost::host& h, mcp::server& m, serve_settings s);
    ~server_core();

    boost::system::result<void, std::string> start(unsigned threads);
    void stop(std::chrono::milliseconds grace);
    std::uint16_t port() const noexcept { return port_.load(); }
    void set_ready(bool r) noexcept { ready_.store(r); }
    std::size_t session_count() const {
        std::shared_lock l(sessions_m_);
        return sessions_.size();
    }

    // ---- used by connections (on their threads)
    bool stopping() const noexcept { return st_->stopping.load(std::memory_order_relaxed); }
    bool host_allowed(std::string_view host) const;
    bool origin_allowed(std::string_view origin) const;

    std::shared_ptr<session_entry> find_session(std::string_view id) const {
        std::shared_lock l(sessions_m_);
        auto it = sessions_.find(id);
        return it == sessions_.end() ? nullptr : it->second;
    }
    // Adds a session unless max_sessions are open; null then.
    std::shared_ptr<session_entry> add_session(std::string id);
    // Forgets a session (if `e` is still the one under `id`), closes it and ends its stream.
    void end_session(const std::string& id, const std::shared_ptr<session_entry>& e);

    void count(route_id route, unsigned status, steady::duration took, bool timed);

    void unregister(std::list<std::weak_ptr<connection>>::iterator it) {
        std::lock_guard l(conns_m_);
        conns_.erase(it);
    }

    toolhost::host& host_;
    mcp::server& mcp_;
    const serve_settings settings_;
    const std::shared_ptr<shared_state> st_ = std::make_shared<shared_state>();

private:
    friend class connection;
    void do_accept();
    void run_io(asio::io_context& io);
    void schedule_sweep();
    void sweep();
    std::vector<std::shared_ptr<connection>> snapshot();

    std::atomic<std::uint16_t> port_{0};
    std::atomic<bool> ready_{false};
    std::vector<host_port> allowed_hosts_;
    std::vector<std::string> allowed_origins_;
    std::string listen_name_;  // lower case, IPv6 in brackets

    // Metrics (references into the host's registry, which outlives the server).
    counter_family* requests_ = nullptr;
    histogram_family* durations_ = nullptr;
    std::array<std::array<std::atomic<counter*>, 600>, r_count> counters_{};
    std::array<std::atomic<histogram*>, r_count> histograms_{};
    gauge_family* gauges_ = nullptr;

    mutable std::shared_mutex sessions_m_;
    struct string_hash {
        using is_transparent = void;
        std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
    };
    std::unordered_map<std::string, std::shared_ptr<session_entry>, string_hash, std::equal_to<>> sessions_;

    // Declared before the io_context: connections destroyed with it unregister here.
    std::mutex conns_m_;
    std::list<std::weak_ptr<connection>> conns_;

    std::mutex lifecycle_m_;
    bool started_ = false;
    bool stopped_ = false;

    // One io_context per I/O thread (start() adds all but the first); the first one also runs
    // the acceptor and the sweep.
    std::vector<std::unique_ptr<asio::io_context>> ios_ = [] {
        std::vector<std::unique_ptr<asio::io_context>> v;
        v.push_back(std::make_unique<asio::io_context>(1));
        return v;
    }();
    std::vector<asio::executor_work_guard<io_executor>> work_;
    std::size_t next_io_ = 0;  // round robin at accept
    io_executor main_ = ios_.front()->get_executor();
    asio::basic_socket_acceptor<tcp, io_executor> acceptor_{main_};
    timer_type accept_retry_{main_};
    timer_type sweep_timer_{main_};
    std::vector<std::thread> threads_;
};

// ------------------------------------------------------------------------------- connection

class connection : public std::enable_shared_from_this<connection> {
public:
    connection(server_core& srv, asio::io_context& io)
        : srv_(srv), st_(srv.st_), ex_(io.get_executor()), sock_(ex_), timer_(ex_),
          jp_({}, parse_opts()) {
        st_->connections.fetch_add(1, std::memory_order_relaxed);
    }
    ~connection() {
        if (registered_) srv_.unregister(self_it_);
        st_->connections.fetch_sub(1, std::memory_order_relaxed);
    }

    socket_type& socket() noexcept { return sock_; }
    const io_executor& executor() const noexcept { return ex_; }
    void set_registration(std::list<std::weak_ptr<connection>>::iterator it) {
        self_it_ = it;
        registered_ = true;
    }

    // Whether the client is known to be gone (any thread).
    std::atomic<bool> gone{false};

    void start() {
        boost::system::error_code ec;
        sock_.set_option(tcp::no_delay(true), ec);
        start_read();
    }

    // Posted by stop(): idle connections close, streams end, the rest finish their request.
    void on_stopping() {
        if (phase_ == phase::reading && !request_started_) return close_now();
        if (phase_ == phase::stream) end_stream_now();
    }

    // From the stopping thread once the I/O threads are gone.
    void force_close() {
        if (stateless_session_) stateless_session_->close();
        stateless_session_.reset();
        close_now();
    }

    // ---- deliveries (on the connection's thread)
    void mcp_send(std::uint64_t seq, std::string message);
    void mcp_finish(std::uint64_t seq, std::string message);
    void stream_send(std::uint64_t stream_seq, std::string message);
    void stream_end(std::uint64_t stream_seq);
    void rest_done(std::uint64_t seq, call_result r);

private:
    enum class phase { reading, handling, waiting, writing, stream, draining, closed };

    // ------------------------------------------------------------------ reading
    void start_read() {
        phase_ = phase::reading;
        parser_.emplace();
        fields_ = {};
        parser_->header_limit(header_limit);
        parser_->body_limit(srv_.settings_.max_request_bytes);
        header_checked_ = false;
        timed_out_ = false;
        refusal_.reset();
        request_started_ = buffer_.size() > 0;
        if (!request_started_ && srv_.stopping()) return close_now();
        set_deadline(steady::now() + std::chrono::milliseconds(request_started_ ? srv_.settings_.request_timeout_ms
                                                                                 : srv_.settings_.idle_timeout_ms));
        parse_buffered();
    }

    void parse_buffered() {
        for (;;) {
            if (parser_->is_header_done() && !header_checked_) {
                header_checked_ = true;
                if (!on_header()) return;
                continue;
            }
            if (parser_->is_done()) return on_request();
            if (buffer_.size() == 0) return read_some();
            beast::error_code ec;
            const std::size_t n = parser_->put(buffer_.data(), ec);
            buffer_.consume(n);
            if (ec == bhttp::error::need_more) {
                if (n == 0 || buffer_.size() == 0) return read_some();
                continue;
            }
            if (ec) return on_parse_error(ec);
        }
    }

    // One read at a time, whatever the phase, into rbuf_ (never into buffer_ directly: the parser
    // consumes buffer_ while a read may be pending): the read that watches a client while its answer
    // is pending (a disconnect cancels a REST call, makes MCP sends fail) carries over as the
    // read of the next request, and bytes a pipelining client sends meanwhile wait in the buffer.
    void read_some() {
        if (read_pending_ || phase_ == phase::closed) return;
        read_pending_ = true;
        sock_.async_read_some(asio::buffer(rbuf_),
                              [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                                  self->on_read(ec, n);
                              });
    }

    void on_read(const boost::system::error_code& ec, std::size_t n) {
        read_pending_ = false;
        if (n > 0 && phase_ != phase::draining && phase_ != phase::closed) {
            std::memcpy(buffer_.prepare(n).data(), rbuf_.data(), n);
            buffer_.commit(n);
        }
        switch (phase_) {
        case phase::reading: return on_request_bytes(ec, n);
        case phase::closed: return;
        case phase::draining:
            drained_ += n;
            if (ec || drained_ > linger_cap) return close_now();
            return read_some();
        default:  // an answer is pending or being written: watching
            if (ec == asio::error::operation_aborted) return;
            if (ec == asio::error::eof && phase_ == phase::writing) {
                keep_alive_ = false;  // a half-closed client still gets this response
                return;
            }
            if (ec) return close_now();  // the client went away
            return watch();
        }
    }

    void watch() {
        if (buffer_.size() < watch_cap) read_some();
    }

    void on_request_bytes(const boost::system::error_code& ec, std::size_t n) {
        if (timed_out_) {
            if (request_started_) return fail_request(bhttp::status::request_timeout, "the request took too long to arrive");
            return close_now();
        }
        if (ec) {
            if (ec == asio::error::eof && request_started_ && parser_->got_some()) {
                beast::error_code pec;
                parser_->put_eof(pec);
                if (!pec && parser_->is_done()) return on_request();
            }
            return close_now();
        }
        if (!request_started_ && n > 0) {
            request_started_ = true;
            set_deadline(steady::now() + std::chrono::milliseconds(srv_.settings_.request_timeout_ms));
        }
        parse_buffered();
    }

    void on_parse_error(const beast::error_code& ec) {
        if (ec == bhttp::error::body_limit)
            return fail_request(bhttp::status::payload_too_large,
                                "the request body is larger than " + std::to_string(srv_.settings_.max_request_bytes) +
                                    " bytes");
        if (ec == bhttp::error::header_limit)
            return fail_request(bhttp::status::request_header_fields_too_large, "the request header is too large");
        fail_request(bhttp::status::bad_request, "malformed HTTP request: " + ec.message());
    }

    // Checks what can be checked before the body is read: Host, Origin, the token. Answers
    // (and returns false) when the request is refused. Answers "100 Continue" when asked to.
    bool on_header() {
        auto& h = parser_->get();
        route_ = classify(h.target());
        fields_ = request_fields::of(h);
        const auto& f = fields_;
        const bool body_expected = !parser_->is_done();
        const bool expect_continue = body_expected && iequals(trim(f.expect), "100-continue");
        // A refused request with a small body is read to its end, so that the connection can
        // stay open; otherwise the answer goes out now and the connection closes.
        auto refuse = [&](bhttp::status st, std::string message) {
            const auto length = parser_->content_length();
            if (!body_expected || (length && *length <= refuse_body_limit && !expect_continue)) {
                refusal_ = st;
                refusal_message_ = std::move(message);
                parser_->eager(true);
                return true;
            }
            fail_request(st, std::move(message));
            return false;
        };
        if (!f.host) {
            if (h.version() >= 11) return refuse(bhttp::status::bad_request, "Bad Request: the Host header is required");
        } else if (!srv_.host_allowed(*f.host)) {
            return refuse(bhttp::status::forbidden, "Forbidden: the Host header is not allowed");
        }
        if (f.origin && !srv_.origin_allowed(*f.origin))
            return refuse(bhttp::status::forbidden, "Forbidden: the Origin is not allowed");
        if (!srv_.settings_.auth_token.empty() && route_ != r_healthz && route_ != r_readyz) {
            const std::string_view auth = trim(f.authorization);
            const bool bearer = auth.size() > 7 && iequals(auth.substr(0, 7), "bearer ");
            if (!bearer || !constant_time_equal(trim(auth.substr(7)), srv_.settings_.auth_token))
                return refuse(bhttp::status::unauthorized, "Unauthorized: a valid bearer token is required");
        }
        parser_->eager(true);
        if (expect_continue) {
            static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
            asio::async_write(sock_, asio::buffer(cont.data(), cont.size()),
                              [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                                  if (ec) return self->close_now();
                                  if (self->phase_ == phase::reading) self->parse_buffered();
                              });
            return false;
        }
        return true;
    }

    static route_id classify(std::string_view target) noexcept {
        const std::string_view path = target.substr(0, target.find('?'));
        if (path == "/mcp") return r_mcp;
        if (path == "/healthz") return r_healthz;
        if (path == "/readyz") return r_readyz;
        if (path == "/metrics") return r_metrics;
        if (path == "/v1/tools") return r_tools;
        if (path == "/v1/circuit-breakers" || path == "/v1/circuit-breakers/reset") return r_breakers;
        if (path.starts_with("/v1/tools/")) {
            const std::string_view rest = path.substr(10);
            const auto slash = rest.find('/');
            if (slash == std::string_view::npos) return r_tool;
            const auto second = rest.find('/', slash + 1);
            if (second == std::string_view::npos) return r_call;
            if (rest.substr(slash + 1, second - slash - 1) == "circuit-breaker" &&
                rest.find('/', second + 1) == std::string_view::npos)
                return r_breakers;
        }
        return r_other;
    }

    // ------------------------------------------------------------------ requests
    void on_request() {
        set_deadline(steady::time_point::max());
        phase_ = phase::handling;
        started_at_ = steady::now();
        seq_ = st_->next_seq.fetch_add(1, std::memory_order_relaxed) + 1;
        token_ = busy_token(st_);
        counted_ = false;
        keep_alive_ = req().keep_alive();
        version_ = req().version();
        request_id_.clear();
        if (srv_.stopping()) {
            keep_alive_ = false;
            return http_error(bhttp::status::service_unavailable, "Service Unavailable: the server is shutting down");
        }
        if (refusal_) {
            const auto st = *refusal_;
            refusal_.reset();
            return http_error(st, refusal_message_);
        }
        if (logging::enabled(logging::level::debug))
            logging::write(logging::level::debug, "serve.http", "request",
                           {{"method", std::string(req().method_string())}, {"target", std::string(req().target())}});
        try {
            route();
        } catch (const std::exception& e) {
            if (phase_ == phase::handling)
                http_error(bhttp::status::internal_server_error, std::string("Internal error: ") + e.what());
        }
    }

    void route() {
        const auto method = req().method();
        switch (route_) {
        case r_mcp:
            if (const auto& pv = fields_.protocol_version; pv && !mcp::supported_protocol_version(trim(*pv))) {
                std::string supported;
                for (auto v : mcp::protocol_versions) supported += (supported.empty() ? "" : ", ") + std::string(v);
                return http_error(bhttp::status::bad_request, "Bad Request: Unsupported protocol version: " +
                                                                  std::string(trim(*pv)) +
                                                                  " (supported versions: " + supported + ")");
            }
            if (method == bhttp::verb::post) return mcp_post();
            if (srv_.settings_.stateless)
                return http_error(bhttp::status::method_not_allowed,
                                  "Method Not Allowed: this server is stateless and only takes POST", "POST");
            if (method == bhttp::verb::get) return mcp_get();
            if (method == bhttp::verb::delete_) return mcp_delete();
            return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET, POST, DELETE");
        case r_healthz:
            if (method != bhttp::verb::get) return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET");
            return reply(bhttp::status::ok, R"({"status":"ok"})");
        case r_readyz:
            if (method != bhttp::verb::get) return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET");
            return readyz();
        case r_metrics:
            if (method != bhttp::verb::get) return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET");
            return reply(bhttp::status::ok, srv_.host_.metrics().render_prometheus(),
                         "text/plain; version=0.0.4; charset=utf-8");
        case r_tools:
            if (method != bhttp::verb::get) return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET");
            return list_tools();
        case r_tool:
        case r_call: return rest_tool(method);
        case r_breakers: return breakers(method);
        default: return http_error(bhttp::status::not_found, "Not Found: " + std::string(req().target()));
        }
    }

    // ------------------------------------------------------------------ responses
    // An error in the body shape of the route: a JSON-RPC error without id on /mcp, the
    // {"ok":false,"error":{...}} of `toolhost call --json` elsewhere.
    void http_error(bhttp::status s, std::string_view message, std::string_view allow = {}, int rpc_code = 0) {
        std::string body;
        const unsigned code = static_cast<unsigned>(s);
        if (route_ == r_mcp)
            body = mcp::error_response(nullptr, rpc_code != 0 ? rpc_code : jsonrpc_server_error, message);
        else
            body = failure_json(code_for_http_status(code), message);
        prepare(s);
        if (!allow.empty()) res_.set("Allow", allow);
        if (s == bhttp::status::unauthorized) res_.set("WWW-Authenticate", "Bearer");
        if (s == bhttp::status::service_unavailable && srv_.stopping()) keep_alive_ = false;
        res_.set("Content-Type", "application/json");
        res_.body() = std::move(body);
        send_response();
    }

    void reply(bhttp::status s, std::string body, std::string_view content_type = "application/json") {
        prepare(s);
        res_.set("Content-Type", content_type);
        res_.body() = std::move(body);
        send_response();
    }

    void prepare(bhttp::status s) { res_.reset(s); }

    void send_response() {
        if (srv_.stopping()) keep_alive_ = false;
        if (!request_id_.empty()) res_.set("X-Request-Id", request_id_);
        status_ = res_.status();
        phase_ = phase::writing;
        set_deadline(steady::now() + std::chrono::milliseconds(srv_.settings_.request_timeout_ms));
        asio::async_write(sock_, res_.buffers(version_, keep_alive_),
                          [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                              self->on_response_written(ec);
                          });
    }

    void on_response_written(const boost::system::error_code& ec) {
        if (phase_ == phase::closed) return;
        if (ec) return close_now();
        response_done();
    }

    // The response is out: count it, then the next request, or close.
    void response_done() {
        set_deadline(steady::time_point::max());
        if (!counted_) srv_.count(route_, status_, steady::now() - started_at_, true);
        finish_request_state();
        if (!keep_alive_ || srv_.stopping()) return linger_close();
        start_read();
    }

    void finish_request_state() {
        token_.reset();
        stateless_session_.reset();
        mcp_ = {};
        rest_pending_ = false;
        cancel_.slot().clear();
        sse_ = false;
        stream_end_queued_ = false;
        self_hold_.reset();  // callers hold a reference of their own (handlers capture one)
    }

    // A request refused while reading it (too large, too slow, malformed): answer, then close,
    // since the rest of it was not read.
    void fail_request(bhttp::status s, std::string message) {
        phase_ = phase::handling;
        started_at_ = steady::now();
        const bool have_header = parser_ && parser_->is_header_done();
        version_ = have_header ? parser_->get().version() : 11;
        route_ = have_header ? classify(parser_->get().target()) : r_other;
        keep_alive_ = false;
        parser_.reset();
        fields_ = {};
        token_ = busy_token(st_);
        counted_ = false;
        request_id_.clear();
        http_error(s, message);
    }

    // ------------------------------------------------------------------ closing
    // After a response with "Connection: close": stop sending, read what the client still sends
    // (so that the kernel does not answer it with a reset that could destroy the response
    // before the client read it), then close.
    void linger_close() {
        if (phase_ == phase::closed) return;
        phase_ = phase::draining;
        boost::system::error_code ignored;
        sock_.shutdown(tcp::socket::shutdown_send, ignored);
        drained_ = 0;
        buffer_.consume(buffer_.size());
        set_deadline(steady::now() + linger_time);
        read_some();
    }

    void close_now() {
        if (phase_ == phase::closed) return;
        const bool was_stream = phase_ == phase::stream;
        phase_ = phase::closed;
        gone.store(true, std::memory_order_release);
        boost::system::error_code ignored;
        sock_.shutdown(tcp::socket::shutdown_both, ignored);
        sock_.close(ignored);
        timer_.cancel();
        deadline_ = steady::time_point::max();
        if (rest_pending_) cancel_.emit(asio::cancellation_type::terminal);  // the REST client went away
        rest_pending_ = false;
        if (was_stream || stream_entry_) unregister_stream();
        token_.reset();
        stateless_session_.reset();  // a stateless MCP call keeps running: disconnecting is no cancel
        self_hold_.reset();
    }

    // ------------------------------------------------------------------ deadlines
    // One timer per connection. A later deadline does not re-arm it: it fires at the old time,
    // sees the new deadline and waits again. Stale waits are told apart by a generation.
    void set_deadline(steady::time_point d) {
        deadline_ = d;
        if (d == steady::time_point::max()) return;
        if (timer_armed_ && timer_at_ <= d) return;
        timer_armed_ = true;
        timer_at_ = d;
        const std::uint64_t gen = ++timer_gen_;
        timer_.expires_at(d);
        timer_.async_wait([self = shared_from_this(), gen](const boost::system::error_code& ec) {
            self->on_timer(ec, gen);
        });
    }

    void on_timer(const boost::system::error_code& ec, std::uint64_t gen) {
        if (gen != timer_gen_ || ec == asio::error::operation_aborted) return;
        timer_armed_ = false;
        if (phase_ == phase::closed || deadline_ == steady::time_point::max()) return;
        const auto now = steady::now();
        if (now < deadline_) {
            const auto d = deadline_;
            return set_deadline(d);
        }
        deadline_ = steady::time_point::max();
        on_deadline();
    }

    void on_deadline() {
        switch (phase_) {
        case phase::reading: {
            // Interrupt the read; on_read answers 408 (a request had begun) or just closes.
            timed_out_ = true;
            boost::system::error_code ignored;
            sock_.cancel(ignored);
            return;
        }
        case phase::stream:
            if (!sse_write_busy_ && out_.empty()) {
                if (version_ >= 11) append_chunk(out_, ": keep-alive\n\n");
                else out_ += ": keep-alive\n\n";
                flush_stream();
            }
            set_deadline(steady::now() + stream_keepalive);
            return;
        case phase::writing:
        case phase::draining: return close_now();
        default: return;
        }
    }

    // ------------------------------------------------------------------ MCP
    struct mcp_request {
        std::uint64_t seq = 0;
        bool json_only = false;  // the client takes application/json only
        bool sse_only = false;   // the client takes text/event-stream only
        bool is_request = false; // the message is a request (it is owed a 200 answer)
        bool in_handle = false;  // session::handle() is running on this thread
        std::string new_session_id;
        std::shared_ptr<session_entry> new_entry;
        std::vector<std::string> held_sends;  // from inside handle()
        std::optional<std::string> held_finish;
        bool active = false;
    };

    void mcp_post();
    void mcp_get();
    void mcp_delete();
    void start_sse(std::string_view session_header);
    void queue_event(std::string_view message);
    void queue_stream_end();
    void flush_stream();
    void on_stream_written(const boost::system::error_code& ec);
    void end_stream_now();
    void unregister_stream();
    void deliver_send(std::uint64_t seq, std::string message);
    void deliver_finish(std::uint64_t seq, std::string message);

    // ------------------------------------------------------------------ REST, health
    void readyz();
    void list_tools();
    void rest_tool(bhttp::verb method);
    void breakers(bhttp::verb method);
    void rest_call(std::string tool, std::string operation);

    friend class mcp_exchange;
    friend class http_standalone;

    server_core& srv_;
    const std::shared_ptr<shared_state> st_;
    io_executor ex_;
    socket_type sock_;
    timer_type timer_;
    beast::flat_buffer buffer_;                // received, not yet parsed
    std::array<char, read_chunk> rbuf_;        // what the pending read fills
    json::parser jp_;
    // The request being read or handled: it stays in its parser until the next one begins, so
    // the views in fields_ stay valid and nothing is moved out.
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    const bhttp::request<bhttp::string_body>& req() const { return parser_->get(); }
    request_fields fields_;  // of req(), read once its header is complete
    response res_;

    std::list<std::weak_ptr<connection>>::iterator self_it_;
    bool registered_ = false;

    phase phase_ = phase::reading;
    route_id route_ = r_other;
    unsigned status_ = 0;
    unsigned version_ = 11;
    bool keep_alive_ = true;
    bool header_checked_ = false;
    bool request_started_ = false;
    bool timed_out_ = false;
    std::optional<bhttp::status> refusal_;  // refused at the header; answered once the body is read
    std::string refusal_message_;
    bool counted_ = false;  // a GET stream is counted when it starts
    steady::time_point started_at_{};
    std::uint64_t seq_ = 0;
    busy_token token_;
    std::shared_ptr<connection> self_hold_;
    std::string request_id_;

    // deadline timer
    steady::time_point deadline_ = steady::time_point::max();
    steady::time_point timer_at_{};
    bool timer_armed_ = false;
    std::uint64_t timer_gen_ = 0;

    bool read_pending_ = false;
    std::uint64_t drained_ = 0;

    // MCP POST
    mcp_request mcp_;
    std::shared_ptr<mcp::session> stateless_session_;

    // SSE output (POST streams and the GET stream)
    bool sse_ = false;
    bool sse_write_busy_ = false;
    bool stream_end_queued_ = false;
    std::string out_;
    std::string wbuf_;

    // GET stream
    std::shared_ptr<session_entry> stream_entry_;
    std::uint64_t stream_seq_ = 0;

    // REST call
    bool rest_pending_ = false;
    asio::cancellation_signal cancel_;
};

// ------------------------------------------------------------------------ engine-side objects

// Posts `fn` to the connection's io_context, under the gate; false when the connection or the server
// is gone. The strong reference is moved into the handler before the gate opens again.
template <class Fn>
bool post_to(const std::shared_ptr<shared_state>& st, const std::weak_ptr<connection>& weak, Fn&& fn) {
    std::shared_lock gate(st->gate_m);
    if (!st->open) return false;
    auto c = weak.lock();
    if (!c || c->gone.load(std::memory_order_acquire)) return false;
    const auto& ex = c->executor();
    asio::post(ex, [c = std::move(c), fn = std::forward<Fn>(fn)]() mutable { fn(*c); });
    return true;
}

class mcp_exchange final : public mcp::exchange {
public:
    mcp_exchange(std::shared_ptr<shared_state> st, connection* raw, std::weak_ptr<connection> c, std::uint64_t seq,
                 bool json_only)
        : st_(std::move(st)), raw_(raw), conn_(std::move(c)), seq_(seq), json_only_(json_only), token_(st_) {}

    bool send(std::string message) override {
        if (json_only_) {
            // The client takes one JSON response: notifications are dropped; a request of the
            // server's cannot be delivered.
            json::error_code ec;
            const json::value v = json::parse(message, ec);
            const auto* o = ec ? nullptr : v.if_object();
            return !(o && o->contains("method") && o->contains("id"));
        }
        if (tls_handling == raw_) {
            raw_->deliver_send(seq_, std::move(message));
            return true;
        }
        return post_to(st_, conn_, [seq = seq_, m = std::move(message)](connection& c) mutable {
            c.mcp_send(seq, std::move(m));
        });
    }

    void finish(std::string message) override {
        if (finished_.exchange(true)) return;
        if (tls_handling == raw_) {
            raw_->deliver_finish(seq_, std::move(message));
        } else {
            post_to(st_, conn_, [seq = seq_, m = std::move(message)](connection& c) mutable {
                c.mcp_finish(seq, std::move(m));
            });
        }
        token_.reset();
    }

private:
    std::shared_ptr<shared_state> st_;
    connection* raw_;  // compared only, never dereferenced off its thread
    std::weak_ptr<connection> conn_;
    std::uint64_t seq_;
    bool json_only_;
    std::atomic<bool> finished_{false};
    busy_token token_;
};

class http_standalone final : public mcp::standalone_stream {
public:
    http_standalone(std::shared_ptr<shared_state> st, std::weak_ptr<connection> c, std::uint64_t seq)
        : st_(std::move(st)), conn_(std::move(c)), seq_(seq) {}
    bool send(std::string message) override {
        return post_to(st_, conn_, [seq = seq_, m = std::move(message)](connection& c) mutable {
            c.stream_send(seq, std::move(m));
        });
    }

private:
    std::shared_ptr<shared_state> st_;
    std::weak_ptr<connection> conn_;
    std::uint64_t seq_;
};

// ------------------------------------------------------------------------------ MCP routes

void connection::mcp_post() {
    const accepted_types accept = parse_accept(fields_.accept);
    if (!accept.json && !accept.sse)
        return http_error(bhttp::status::not_acceptable,
                          "Not Acceptable: Client must accept application/json or text/event-stream");
    if (!is_json_media_type(fields_.content_type))
        return http_error(bhttp::status::unsupported_media_type,
                          "Unsupported Media Type: Content-Type must be application/json");

    const std::string& body = req().body();
    jp_.reset();
    json::error_code ec;
    jp_.write(body.data(), body.size(), ec);
    if (ec) {
        jp_.reset();
        return http_error(bhttp::status::bad_request, "Parse error: " + json_error_message("the message", body, ec), {},
                          mcp::parse_error);
    }
    json::value message = jp_.release();
    const json::object* obj = message.if_object();
    const json::value* method = obj ? obj->if_contains("method") : nullptr;
    const bool is_initialize = method && method->is_string() && method->get_string() == "initialize";
    const bool is_request = method != nullptr && obj->contains("id");

    std::shared_ptr<mcp::session> session;
    mcp_ = {};
    if (srv_.settings_.stateless) {
        session = srv_.mcp_.stateless_session();
        stateless_session_ = session;
    } else {
        const auto& header = fields_.session_id;
        if (!header) {
            if (!is_initialize)
                return http_error(bhttp::status::bad_request, "Bad Request: Mcp-Session-Id header is required");
            std::string id = random_session_id();
            auto entry = srv_.add_session(id);
            if (!entry)
                return http_error(bhttp::status::service_unavailable,
                                  "Service Unavailable: too many MCP sessions (" +
                                      std::to_string(srv_.settings_.max_sessions) + ")");
            session = entry->session;
            mcp_.new_session_id = std::move(id);
            mcp_.new_entry = std::move(entry);
        } else {
            auto entry = srv_.find_session(trim(*header));
            if (!entry || entry->session->closed()) {
                if (entry) srv_.end_session(std::string(trim(*header)), entry);
                return http_error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
            }
            session = entry->session;
        }
    }

    mcp_.active = true;
    mcp_.seq = seq_;
    mcp_.json_only = accept.json && !accept.sse;
    mcp_.sse_only = accept.sse && !accept.json;
    mcp_.is_request = is_request;
    phase_ = phase::waiting;
    self_hold_ = shared_from_this();
    auto ex = std::make_shared<mcp_exchange>(st_, this, weak_from_this(), seq_, mcp_.json_only);

    mcp_.in_handle = true;
    tls_handling = this;
    try {
        session->handle(std::move(message), std::move(ex));
    } catch (...) {
        tls_handling = nullptr;
        mcp_.in_handle = false;
        if (!mcp_.held_finish) {  // no answer will come: let on_request() answer 500
            mcp_ = {};
            self_hold_.reset();
            phase_ = phase::handling;
            throw;
        }
    }
    tls_handling = nullptr;
    mcp_.in_handle = false;

    // What the engine sent from inside handle(), now that it has returned.
    auto held = std::move(mcp_.held_sends);
    for (auto& m : held) mcp_send(seq_, std::move(m));
    if (mcp_.held_finish) {
        auto f = std::move(*mcp_.held_finish);
        mcp_.held_finish.reset();
        mcp_finish(seq_, std::move(f));
    }
    if (phase_ == phase::waiting || phase_ == phase::stream) watch();
}

// From inside session::handle() on this connection's thread: kept until handle() returns, so
// that nothing re-enters the engine from within it.
void connection::deliver_send(std::uint64_t seq, std::string message) {
    if (seq != mcp_.seq) return;
    if (mcp_.in_handle) mcp_.held_sends.push_back(std::move(message));
    else mcp_send(seq, std::move(message));
}

void connection::deliver_finish(std::uint64_t seq, std::string message) {
    if (seq != mcp_.seq) return;
    if (mcp_.in_handle) mcp_.held_finish = std::move(message);
    else mcp_finish(seq, std::move(message));
}

void connection::mcp_send(std::uint64_t seq, std::string message) {
    if (!mcp_.active || seq != mcp_.seq || stream_end_queued_) return;
    if (phase_ != phase::waiting && !(phase_ == phase::stream && sse_)) return;
    if (!sse_) start_sse(mcp_.new_session_id);
    queue_event(message);
    flush_stream();
}

void connection::mcp_finish(std::uint64_t seq, std::string message) {
    if (!mcp_.active || seq != mcp_.seq) return;
    if (phase_ != phase::waiting && phase_ != phase::stream) return;
    std::string session_header = mcp_.new_session_id;
    if (!session_header.empty()) {
        // The session lives on only when initialize succeeded.
        json::error_code ec;
        const json::value v = json::parse(message, ec);
        const auto* o = ec ? nullptr : v.if_object();
        if (!o || !o->contains("result")) {
            srv_.end_session(session_header, mcp_.new_entry);
            session_header.clear();
        }
    }
    if (sse_) {
        if (!message.empty()) queue_event(message);
        queue_stream_end();
        return flush_stream();
    }
    if (message.empty() && mcp_.is_request) {
        // A request that gets no response (the client cancelled it): the transport still owes
        // a 200 with a stream (202 is for notifications and responses only); it ends empty.
        start_sse(session_header);
        queue_stream_end();
        return flush_stream();
    }
    if (message.empty()) {
        prepare(bhttp::status::accepted);
        if (!session_header.empty()) res_.set("Mcp-Session-Id", session_header);
        return send_response();
    }
    if (mcp_.sse_only) {
        start_sse(session_header);
        queue_event(message);
        queue_stream_end();
        return flush_stream();
    }
    prepare(bhttp::status::ok);
    res_.set("Content-Type", "application/json");
    if (!session_header.empty()) res_.set("Mcp-Session-Id", session_header);
    res_.body() = std::move(message);
    send_response();
}

// Starts a 200 text/event-stream response: chunked on HTTP/1.1, delimited by the close on 1.0.
void connection::start_sse(std::string_view session_header) {
    sse_ = true;
    stream_end_queued_ = false;
    status_ = 200;
    phase_ = phase::stream;
    if (srv_.stopping()) keep_alive_ = false;
    out_.clear();
    out_ += version_ >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
    out_ += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
    if (!session_header.empty()) {
        out_ += "Mcp-Session-Id: ";
        out_ += session_header;
        out_ += "\r\n";
    }
    if (version_ >= 11) {
        out_ += "Transfer-Encoding: chunked\r\n";
        if (!keep_alive_) out_ += "Connection: close\r\n";
    } else {
        keep_alive_ = false;
    }
    out_ += "\r\n";
}

void connection::queue_event(std::string_view message) {
    thread_local std::string event;
    event.clear();
    append_event(event, st_->next_event_id.fetch_add(1, std::memory_order_relaxed) + 1, message);
    if (version_ >= 11) append_chunk(out_, event);
    else out_ += event;
}

void connection::queue_stream_end() {
    if (stream_end_queued_) return;
    stream_end_queued_ = true;
    if (version_ >= 11) out_ += "0\r\n\r\n";
    else keep_alive_ = false;
}

void connection::flush_stream() {
    if (sse_write_busy_ || phase_ == phase::closed) return;
    if (out_.empty()) {
        if (stream_end_queued_) {
            // Everything is out.
            if (stream_entry_) unregister_stream();
            return response_done();
        }
        return;
    }
    if (out_.size() > stream_backlog_cap) return close_now();  // the client does not read
    wbuf_.swap(out_);
    out_.clear();
    sse_write_busy_ = true;
    asio::async_write(sock_, asio::buffer(wbuf_), [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
        self->on_stream_written(ec);
    });
}

void connection::on_stream_written(const boost::system::error_code& ec) {
    sse_write_busy_ = false;
    wbuf_.clear();
    if (phase_ == phase::closed) return;
    if (ec) return close_now();
    flush_stream();
}

void connection::mcp_get() {
    const accepted_types accept = parse_accept(fields_.accept);
    if (!accept.sse) return http_error(bhttp::status::not_acceptable, "Not Acceptable: Client must accept text/event-stream");
    const auto& header = fields_.session_id;
    if (!header) return http_error(bhttp::status::bad_request, "Bad Request: Mcp-Session-Id header is required");
    auto entry = srv_.find_session(trim(*header));
    if (!entry || entry->session->closed())
        return http_error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
    const std::uint64_t my_seq = seq_;
    {
        std::lock_guard l(entry->m);
        if (entry->stream_seq != 0) {
            auto other = entry->stream.lock();
            if (other && !other->gone.load(std::memory_order_acquire))
                return http_error(bhttp::status::conflict, "Conflict: Only one SSE stream is allowed per session");
        }
        entry->stream_seq = my_seq;
        entry->stream = weak_from_this();
        entry->session->set_standalone(std::make_shared<http_standalone>(st_, weak_from_this(), my_seq));
    }
    stream_entry_ = std::move(entry);
    stream_seq_ = my_seq;
    self_hold_ = shared_from_this();
    start_sse({});
    // A stream is not a request that stop() waits for: it ends when the server stops.
    srv_.count(route_, 200, {}, false);
    counted_ = true;
    token_.reset();
    flush_stream();
    set_deadline(steady::now() + stream_keepalive);
    watch();
    if (srv_.stopping()) end_stream_now();
}

void connection::stream_send(std::uint64_t stream_seq, std::string message) {
    if (stream_seq != stream_seq_ || !stream_entry_ || phase_ != phase::stream || stream_end_queued_) return;
    queue_event(message);
    flush_stream();
}

void connection::stream_end(std::uint64_t stream_seq) {
    if (stream_seq != stream_seq_ || !stream_entry_ || phase_ != phase::stream) return;
    end_stream_now();
}

void connection::end_stream_now() {
    if (phase_ != phase::stream) return;
    if (stream_entry_) unregister_stream();
    keep_alive_ = keep_alive_ && !srv_.stopping();
    queue_stream_end();
    flush_stream();
}

void connection::unregister_stream() {
    auto entry = std::move(stream_entry_);
    stream_entry_.reset();
    if (!entry) return;
    std::lock_guard l(entry->m);
    if (entry->stream_seq == stream_seq_) {
        entry->stream_seq = 0;
        entry->stream.reset();
        entry->session->set_standalone(nullptr);
    }
}

void connection::mcp_delete() {
    const auto& header = fields_.session_id;
    if (!header) return http_error(bhttp::status::bad_request, "Bad Request: Mcp-Session-Id header is required");
    const std::string id(trim(*header));
    auto entry = srv_.find_session(id);
    if (!entry) return http_error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
    srv_.end_session(id, entry);
    prepare(bhttp::status::ok);
    send_response();
}

// ------------------------------------------------------------------------------ REST routes

void connection::readyz() {
    const bool ready = srv_.ready_.load();
    json::array tools;
    for (const auto& s : srv_.host_.status()) {
        json::object o{{"name", s.name}, {"state", tool_state_name(s.state)}, {"enabled", s.enabled}};
        if (!s.error.empty()) o["error"] = s.error;
        tools.push_back(std::move(o));
    }
    reply(ready ? bhttp::status::ok : bhttp::status::service_unavailable,
          json::serialize(json::object{{"status", ready ? "ready" : "not_ready"}, {"tools", std::move(tools)}}));
}

json::object tool_json(const toolhost::host& h, const tool_status& s) {
    json::object o;
    if (auto f = h.find(s.name)) o = to_json(f->descriptor());
    else o["name"] = s.name;
    o["state"] = tool_state_name(s.state);
    o["enabled"] = s.enabled;
    if (!s.error.empty()) o["error"] = s.error;
    return o;
}

void connection::list_tools() {
    json::array tools;
    for (const auto& s : srv_.host_.status()) tools.push_back(tool_json(srv_.host_, s));
    reply(bhttp::status::ok, json::serialize(json::object{{"tools", std::move(tools)}}));
}

// The seed's reset_circuit_breaker / reset_all_circuit_breakers, for `toolhost breaker`:
//   GET  /v1/circuit-breakers                               every breaker
//   POST /v1/circuit-breakers/reset                         close them all
//   POST /v1/tools/{tool}/circuit-breaker/{reset|open|disable}  one tool's ({"operation": ...}: one)
void connection::breakers(bhttp::verb method) {
    const std::string_view path = std::string_view(req().target()).substr(0, req().target().find('?'));
    auto& h = srv_.host_;
    if (path == "/v1/circuit-breakers") {
        if (method != bhttp::verb::get) return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET");
        const auto now = std::chrono::steady_clock::now();
        json::array all;
        for (const auto& b : h.circuit_breakers()) {
            json::object o{{"tool", b.tool},
                           {"operation", b.operation.empty() ? json::value(nullptr) : json::value(b.operation)},
                           {"state", breaker_state_name(b.state.state)},
                           {"calls", b.state.calls},
                           {"failures", b.state.failures},
                           {"consecutive_failures", b.state.consecutive_failures},
                           {"failure_rate", b.state.failure_rate},
                           {"transitions", b.state.transitions}};
            if (b.state.state == breaker_state::open || b.state.state == breaker_state::half_open)
                o["next_probe_in_ms"] =
                    std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(b.state.next_probe_at - now).count());
            all.push_back(std::move(o));
        }
        return reply(bhttp::status::ok, json::serialize(json::object{{"circuit_breakers", std::move(all)}}));
    }
    if (method != bhttp::verb::post) return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "POST");
    if (path == "/v1/circuit-breakers/reset") {
        h.reset_all_circuit_breakers();
        logging::write(logging::level::info, "serve", "every circuit breaker reset over HTTP");
        return reply(bhttp::status::ok, R"({"ok":true})");
    }
    auto target = boost::urls::parse_origin_form(req().target());
    if (!target) return http_error(bhttp::status::bad_request, "Bad Request: malformed request target");
    std::vector<std::string> segments;
    for (auto seg : target->segments()) segments.push_back(seg);
    // v1, tools, {tool}, circuit-breaker, {action}
    if (segments.size() != 5) return http_error(bhttp::status::not_found, "Not Found: " + std::string(req().target()));
    const std::string& tool = segments[2];
    const std::string& action = segments[4];
    std::string operation;
    if (!req().body().empty()) {
        json::error_code ec;
        auto v = json::parse(req().body(), ec);
        const json::value* op = !ec && v.is_object() ? v.as_object().if_contains("operation") : nullptr;
        if (ec || !v.is_object() || (op != nullptr && !op->is_string()))
            return http_error(bhttp::status::bad_request, "the body must be {} or {\"operation\": \"<name>\"}");
        if (op != nullptr) operation = op->get_string();
    }
    bool found = false;
    if (action == "reset") found = h.reset_circuit_breaker(tool, operation);
    else if (action == "open") found = h.force_open_circuit_breaker(tool, operation);
    else if (action == "disable") found = h.disable_circuit_breaker(tool, operation);
    else return http_error(bhttp::status::not_found, "no breaker action '" + action + "' (reset, open or disable)");
    if (!found)
        return http_error(bhttp::status::not_found,
                          operation.empty() ? "no tool named '" + tool + "'"
                                            : "no operation '" + operation + "' in tool '" + tool + "'");
    logging::write(logging::level::info, "serve", "circuit breaker changed over HTTP",
                   {{"tool", tool}, {"operation", operation}, {"action", action}});
    return reply(bhttp::status::ok, R"({"ok":true})");
}

void connection::rest_tool(bhttp::verb method) {
    auto target = boost::urls::parse_origin_form(req().target());
    if (!target) return http_error(bhttp::status::bad_request, "Bad Request: malformed request target");
    std::vector<std::string> segments;
    for (auto seg : target->segments()) segments.push_back(seg);
    // segments: v1, tools, {tool}[, {operation}]
    if (route_ == r_tool && segments.size() == 3) {
        if (method != bhttp::verb::get) return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET");
        auto s = srv_.host_.status(segments[2]);
        if (!s) return http_error(bhttp::status::not_found, "no tool named '" + segments[2] + "'");
        return reply(bhttp::status::ok, json::serialize(tool_json(srv_.host_, *s)));
    }
    if (route_ == r_call && segments.size() == 4) {
        if (method != bhttp::verb::post) return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "POST");
        return rest_call(std::move(segments[2]), std::move(segments[3]));
    }
    http_error(bhttp::status::not_found, "Not Found: " + std::string(req().target()));
}

void connection::rest_call(std::string tool, std::string operation) {
    if (const auto& rid = fields_.request_id) {
        const std::string_view v = trim(*rid);
        if (v.size() > 256 || !std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
            return http_error(bhttp::status::bad_request, "X-Request-Id must be 1-256 visible ASCII characters");
        request_id_ = std::string(v);
    }
    call_options options;
    options.request_id = request_id_;
    if (const auto& sid = fields_.client_session_id) options.session_id = std::string(trim(*sid));
    if (const auto& tp = fields_.traceparent) options.traceparent = std::string(trim(*tp));
    if (const auto& tm = fields_.timeout_ms) {
        const std::string_view v = trim(*tm);
        std::uint64_t ms = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
        if (v.empty() || ec != std::errc() || end != v.data() + v.size() || ms > 86400000ull * 365)
            return http_error(bhttp::status::bad_request, "X-Timeout-Ms must be a number of milliseconds");
        options.deadline = steady::now() + std::chrono::milliseconds(ms);
    }

    json::value arguments;
    const std::string& body = req().body();
    if (trim(body).empty()) {
        arguments = json::object();
    } else {
        jp_.reset();
        json::error_code ec;
        jp_.write(body.data(), body.size(), ec);
        if (ec) {
            jp_.reset();
            return http_error(bhttp::status::bad_request, json_error_message("the request body", body, ec));
        }
        arguments = jp_.release();
    }

    phase_ = phase::waiting;
    rest_pending_ = true;
    self_hold_ = shared_from_this();
    auto done = [st = st_, weak = weak_from_this(), seq = seq_, token = busy_token(st_)](call_result r) mutable {
        post_to(st, weak, [seq, r = std::move(r)](connection& c) mutable { c.rest_done(seq, std::move(r)); });
        token.reset();
    };
    srv_.host_.async_call(std::move(tool), std::move(operation), std::move(arguments), std::move(options),
                          asio::bind_cancellation_slot(cancel_.slot(), std::move(done)));
    watch();
}

void connection::rest_done(std::uint64_t seq, call_result r) {
    if (!rest_pending_ || seq != seq_ || phase_ != phase::waiting) return;
    rest_pending_ = false;
    cancel_.slot().clear();
    if (r) {
        if (!is_valid_json(*r)) {
            return reply(bhttp::status::internal_server_error,
                         failure_json("INTERNAL", "the tool returned a result that is not valid JSON"));
        }
        std::string body;
        body.reserve(r->size() + 24);
        body += R"({"ok":true,"result":)";
        body += *r;
        body += '}';
        return reply(bhttp::status::ok, std::move(body));
    }
    const tool_error& e = r.error();
    prepare(static_cast<bhttp::status>(http_status_for(e.code)));
    res_.set("Content-Type", "application/json");
    if (e.retry_after) {
        const auto ms = std::max<std::int64_t>(0, e.retry_after->count());
        res_.set("Retry-After", std::to_string((ms + 999) / 1000));
    }
    res_.body() = failure_json(status_name(e.code), e.message);
    send_response();
}

// ----------------------------------------------------------------------------- server core

server_core::server_core(toolhost::host& h, mcp::server& m, serve_settings s)
    : host_(h), mcp_(m), settings_(std::move(s)) {
    for (const auto& a : settings_.allowed_hosts) {
        host_port hp = split_host(a);
        if (hp.valid) allowed_hosts_.push_back(std::move(hp));
    }
    for (const auto& o : settings_.allowed_origins) allowed_origins_.push_back(normalize_origin(o));
    auto& reg = host_.metrics();
    requests_ = &reg.counters("toolhost_http_requests_total", "HTTP requests served, by route and status code.",
                              {"route", "code"});
    durations_ = &reg.histograms("toolhost_http_request_duration_seconds",
                                 "Time from a request's arrival to its response's end (SSE streams of GET /mcp excluded).",
                                 {"route"});
    gauges_ = &reg.gauges("toolhost_http_open", "Open HTTP connections and MCP sessions.", {"what"});
    std::weak_ptr<shared_state> weak = st_;
    gauges_->set_callback({"connections"}, [weak] {
        auto s = weak.lock();
        return s ? static_cast<double>(s->connections.load(std::memory_order_relaxed)) : 0.0;
    });
    gauges_->set_callback({"mcp_sessions"}, [weak] {
        auto s = weak.lock();
        return s ? static_cast<double>(s->sessions.load(std::memory_order_relaxed)) : 0.0;
    });
}

server_core::~server_core() {
    stop(0ms);
    gauges_->remove_callback({"connections"});
    gauges_->remove_callback({"mcp_sessions"});
}

bool server_core::host_allowed(std::string_view host) const {
    const host_port hp = split_host(host);
    if (!hp.valid) return false;
    if (is_loopback_name(hp.name) || hp.name == listen_name_) return true;
    return std::any_of(allowed_hosts_.begin(), allowed_hosts_.end(), [&](const host_port& a) {
        return a.name == hp.name && (a.port.empty() || a.port == hp.port);
    });
}

bool server_core::origin_allowed(std::string_view origin) const {
    if (is_loopback_origin(origin)) return true;
    if (allowed_origins_.empty()) return false;
    const std::string o = normalize_origin(origin);
    return std::find(allowed_origins_.begin(), allowed_origins_.end(), o) != allowed_origins_.end();
}

std::shared_ptr<session_entry> server_core::add_session(std::string id) {
    auto entry = std::make_shared<session_entry>();
    {
        std::unique_lock l(sessions_m_);
        if (sessions_.size() >= settings_.max_sessions) return nullptr;
        entry->session = mcp_.open_session(id);
        sessions_.emplace(std::move(id), entry);
        st_->sessions.store(static_cast<std::int64_t>(sessions_.size()), std::memory_order_relaxed);
    }
    if (logging::enabled(logging::level::debug))
        logging::write(logging::level::debug, "serve.http", "MCP session opened", {{"sessions", session_count()}});
    return entry;
}

void server_core::end_session(const std::string& id, const std::shared_ptr<session_entry>& e) {
    if (!e) return;
    {
        std::unique_lock l(sessions_m_);
        auto it = sessions_.find(id);
        if (it != sessions_.end() && it->second == e) sessions_.erase(it);
        st_->sessions.store(static_cast<std::int64_t>(sessions_.size()), std::memory_order_relaxed);
    }
    std::weak_ptr<connection> stream;
    std::uint64_t stream_seq = 0;
    {
        std::lock_guard l(e->m);
        stream = e->stream;
        stream_seq = e->stream_seq;
    }
    e->session->close();
    if (stream_seq != 0) post_to(st_, stream, [stream_seq](connection& c) { c.stream_end(stream_seq); });
}

void server_core::count(route_id route, unsigned status, steady::duration took, bool timed) {
    if (status >= 600) status = 599;
    auto& slot = counters_[route][status];
    counter* c = slot.load(std::memory_order_acquire);
    if (c == nullptr) {
        const std::string code = std::to_string(status);
        c = &requests_->with({route_names[route], code});
        slot.store(c, std::memory_order_release);
    }
    c->inc();
    if (!timed) return;
    histogram* h = histograms_[route].load(std::memory_order_acquire);
    if (h == nullptr) {
        h = &durations_->with({route_names[route]});
        histograms_[route].store(h, std::memory_order_release);
    }
    h->observe(took);
}

// An I/O thread. After handling something it keeps polling for a short while before it blocks
// in epoll_wait: a client that sends its next request right after an answer (an agent's tool
// loop) then finds the thread awake instead of paying a wake-up, which measured as half the
// round trip of a single client. Under load there is always work and the spin never runs; when
// idle the thread blocks after the spin, so it costs nothing either.
void server_core::run_io(asio::io_context& io) {
    using clock = std::chrono::steady_clock;
    constexpr auto spin = std::chrono::microseconds(50);
    auto active = clock::now();
    while (!io.stopped()) {
        if (io.poll() != 0) {
            active = clock::now();
            continue;
        }
        if (io.stopped()) break;
        if (clock::now() - active < spin) continue;
        if (io.run_one() == 0) break;  // stopped
        active = clock::now();
    }
}

boost::system::result<void, std::string> server_core::start(unsigned threads) {
    std::lock_guard l(lifecycle_m_);
    if (started_) return std::string("the HTTP server was already started");
    if (auto problem = check_listen_address(settings_.listen); !problem.empty())
        return "serve.http.listen '" + settings_.listen + "': " + problem;
    auto [host, port] = split_listen_address(settings_.listen);
    boost::system::error_code ec;
    const auto address = asio::ip::make_address(host, ec);
    if (ec) return "serve.http.listen '" + settings_.listen + "': " + ec.message();
    listen_name_ = address.is_v6() ? "[" + to_lower(address.to_string()) + "]" : address.to_string();
    const tcp::endpoint where(address, port);
    acceptor_.open(where.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(where, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        return "cannot listen on " + settings_.listen + ": " + ec.message();
    }
    port_.store(acceptor_.local_endpoint(ec).port());
    started_ = true;
    const unsigned n = std::max(1u, threads);
    while (ios_.size() < n) ios_.push_back(std::make_unique<asio::io_context>(1));
    for (auto& io : ios_) work_.push_back(asio::make_work_guard(*io));
    asio::dispatch(main_, [this] {
        do_accept();
        if (!settings_.stateless) schedule_sweep();
    });
    threads_.reserve(n);
    for (auto& io : ios_) threads_.emplace_back([this, &io = *io] { run_io(io); });
    logging::write(logging::level::info, "serve.http", "listening",
                   {{"address", listen_name_ + ":" + std::to_string(port_.load())},
                    {"threads", n},
                    {"stateless", settings_.stateless},
                    {"auth", !settings_.auth_token.empty()}});
    return {};
}

void server_core::do_accept() {
    auto c = std::make_shared<connection>(*this, *ios_[next_io_++ % ios_.size()]);
    acceptor_.async_accept(c->socket(), [this, c](const boost::system::error_code& ec) {
        if (!acceptor_.is_open() || ec == asio::error::operation_aborted) return;
        if (ec) {
            // Out of descriptors and the like: wait a little instead of spinning.
            logging::write(logging::level::warning, "serve.http", "accept failed", {{"error", ec.message()}});
            accept_retry_.expires_after(50ms);
            accept_retry_.async_wait([this](const boost::system::error_code& e) {
                if (!e && acceptor_.is_open()) do_accept();
            });
            return;
        }
        if (st_->stopping.load()) {
            boost::system::error_code ignored;
            c->socket().close(ignored);
            return;
        }
        {
            std::lock_guard l(conns_m_);
            conns_.push_front(c);
            c->set_registration(conns_.begin());
        }
        const auto& ex = c->executor();
        asio::dispatch(ex, [c = std::move(c)] { c->start(); });
        do_accept();
    });
}

std::chrono::milliseconds sweep_interval(std::uint64_t timeout_ms) {
    return std::clamp(std::chrono::milliseconds(timeout_ms / 2), std::chrono::milliseconds(10),
                      std::chrono::milliseconds(60000));
}

void server_core::schedule_sweep() {
    sweep_timer_.expires_after(sweep_interval(settings_.session_idle_timeout_ms));
    sweep_timer_.async_wait([this](const boost::system::error_code& ec) {
        if (ec || st_->stopping.load()) return;
        sweep();
        schedule_sweep();
    });
}

// Ends sessions that were closed, or have been idle too long with nothing in flight and no
// GET stream open (a client listening on its stream is still there).
void server_core::sweep() {
    const auto now = steady::now();
    const auto limit = std::chrono::milliseconds(settings_.session_idle_timeout_ms);
    std::vector<std::pair<std::string, std::shared_ptr<session_entry>>> expired;
    {
        std::shared_lock l(sessions_m_);
        for (const auto& [id, e] : sessions_) {
            if (e->session->closed()) {
                expired.emplace_back(id, e);
                continue;
            }
            if (now - e->session->last_activity() < limit || e->session->in_flight() != 0) continue;
            std::lock_guard sl(e->m);
            if (e->stream_seq != 0) {
                auto s = e->stream.lock();
                if (s && !s->gone.load(std::memory_order_acquire)) continue;
            }
            expired.emplace_back(id, e);
        }
    }
    for (const auto& [id, e] : expired) end_session(id, e);
    if (!expired.empty() && logging::enabled(logging::level::debug))
        logging::write(logging::level::debug, "serve.http", "MCP sessions expired",
                       {{"expired", expired.size()}, {"sessions", session_count()}});
}

std::vector<std::shared_ptr<connection>> server_core::snapshot() {
    std::vector<std::shared_ptr<connection>> all;
    std::lock_guard l(conns_m_);
    all.reserve(conns_.size());
    for (const auto& w : conns_)
        if (auto c = w.lock()) all.push_back(std::move(c));
    return all;
}

void server_core::stop(std::chrono::milliseconds grace) {
    std::lock_guard l(lifecycle_m_);
    if (stopped_) return;
    stopped_ = true;
    if (!started_) return;
    st_->stopping.store(true);
    logging::write(logging::level::info, "serve.http", "stopping",
                   {{"grace_ms", static_cast<std::int64_t>(grace.count())}, {"in_progress", st_->busy.load()}});

    // 1. No new connections.
    std::promise<void> closed;
    auto closed_future = closed.get_future();
    asio::post(main_, [this, &closed] {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
        accept_retry_.cancel();
        sweep_timer_.cancel();
        closed.set_value();
    });
    const bool acceptor_closed = closed_future.wait_for(10s) == std::future_status::ready;

    // 2. Idle connections close, GET streams end, the others answer 503 from now on.
    {
        auto all = snapshot();
        for (auto& c : all) {
            const auto& ex = c->executor();
            asio::post(ex, [c = std::move(c)] { c->on_stopping(); });
        }
    }

    // 3. Wait for the requests and calls in progress, up to `grace`.
    {
        std::unique_lock lk(st_->wait_m);
        st_->wait_cv.wait_for(lk, grace, [&] { return st_->busy.load() == 0; });
    }

    // 4. Nothing reaches a connection any more; sessions end (their calls are cancelled).
    {
        std::unique_lock gate(st_->gate_m);
        st_->open = false;
    }
    std::vector<std::shared_ptr<session_entry>> entries;
    {
        std::unique_lock sl(sessions_m_);
        for (auto& [id, e] : sessions_) entries.push_back(std::move(e));
        sessions_.clear();
        st_->sessions.store(0);
    }
    for (auto& e : entries) e->session->close();
    entries.clear();

    // 5. The I/O threads end; every socket closes.
    work_.clear();
    for (auto& io : ios_) io->stop();
    for (auto& t : threads_)
        if (t.joinable()) t.join();
    threads_.clear();
    if (!acceptor_closed) {
        boost::system::error_code ignored;
        acceptor_.close(ignored);
    }
    {
        auto all = snapshot();
        for (auto& c : all) c->force_close();
    }
    logging::write(logging::level::info, "serve.http", "stopped", {{"abandoned", st_->busy.load()}});
}

}  // namespace

// ------------------------------------------------------------------------------ http_server

struct http_server::impl : server_core {
    using server_core::server_core;
};

http_server::http_server(toolhost::host& h, mcp::server& mcp, serve_settings settings)
    : impl_(std::make_unique<impl>(h, mcp, std::move(settings))) {}

http_server::~http_server() = default;  // ~server_core stops with no grace

boost::system::result<void, std::string> http_server::start(unsigned threads) { return impl_->start(threads); }

uint16_t http_server::port() const noexcept { return impl_->port(); }

void http_server::set_ready(bool ready) noexcept { impl_->set_ready(ready); }

void http_server::stop(std::chrono::milliseconds grace) { impl_->stop(grace); }

std::size_t http_server::sessions() const { return impl_->session_count(); }

}  // namespace toolhost::serve
