#include <toolhost/clock.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/tracing.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <type_traits>

#ifndef TOOLHOST_VERSION_STRING
#define TOOLHOST_VERSION_STRING "0.0.0"
#endif

namespace toolhost {
namespace {

namespace json = boost::json;
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

constexpr std::string_view log_channel = "tracing";
constexpr char hex_digits[] = "0123456789abcdef";
constexpr std::string_view default_target = "/v1/traces";
/// The most of a collector's answer that is read; a status line and an error message fit.
constexpr std::size_t response_body_limit = 64 * 1024;
/// The most of an error answer quoted in a log record.
constexpr std::size_t quoted_body_limit = 256;

// ------------------------------------------------------------------------------------- hex

void append_hex(std::string& out, const uint8_t* bytes, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        out += hex_digits[bytes[i] >> 4];
        out += hex_digits[bytes[i] & 0xf];
    }
}

template <std::size_t N>
std::string hex(const std::array<uint8_t, N>& bytes) {
    std::string s;
    s.reserve(2 * N);
    append_hex(s, bytes.data(), N);
    return s;
}

// Lower-case only: the spec's HEXDIGLC.
int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool decode_hex(std::string_view s, uint8_t* out) noexcept {
    for (std::size_t i = 0; i < s.size() / 2; ++i) {
        const int hi = hex_value(s[2 * i]);
        const int lo = hex_value(s[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        out[i] = static_cast<uint8_t>(hi << 4 | lo);
    }
    return true;
}

template <std::size_t N>
bool all_zero(const std::array<uint8_t, N>& bytes) noexcept {
    return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

// ------------------------------------------------------------------------------- endpoints

struct http_endpoint {
    std::string host;         ///< for resolving: no brackets around an IPv6 address
    std::string port;         ///< decimal
    std::string host_header;  ///< as written in the URL, e.g. "[::1]:4318"
    std::string target;       ///< path and query
};

bool ascii_iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size()) return false;
    for (std::size_t i = 0; i < a.size(); ++i) {
        auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
        if (lower(a[i]) != lower(b[i])) return false;
    }
    return true;
}

bool is_alnum(char c) noexcept { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Splits and checks an endpoint URL; returns what is wrong, or "" with `out` filled.
std::string parse_endpoint(std::string_view url, http_endpoint& out) {
    constexpr std::string_view scheme = "http://";
    if (url.size() >= 8 && ascii_iequals(url.substr(0, 8), "https://"))
        return "https is not supported; send to a collector on this machine or a sidecar that forwards over TLS";
    if (url.size() < scheme.size() || !ascii_iequals(url.substr(0, scheme.size()), scheme))
        return "expected an http:// URL such as \"http://127.0.0.1:4318/v1/traces\"";
    for (char c : url) {
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) return "URLs cannot contain spaces or control characters";
    }
    std::string_view rest = url.substr(scheme.size());
    if (rest.find('#') != std::string_view::npos) return "a URL fragment ('#...') is never sent; remove it";
    const std::size_t authority_end = rest.find_first_of("/?");
    const std::string_view authority = rest.substr(0, authority_end);
    std::string_view target = authority_end == std::string_view::npos ? std::string_view{} : rest.substr(authority_end);
    if (authority.find('@') != std::string_view::npos)
        return "credentials in the URL are not supported; put them in \"headers\"";

    std::string_view host;
    std::string_view port;
    if (!authority.empty() && authority.front() == '[') {
        const std::size_t close = authority.find(']');
        if (close == std::string_view::npos) return "missing ']' after the IPv6 address";
        host = authority.substr(1, close - 1);
        boost::system::error_code ec;
        net::ip::make_address_v6(std::string(host), ec);
        if (ec) return "'" + std::string(host) + "' is not an IPv6 address";
        const std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return "expected ':' and a port after the IPv6 address";
            port = after.substr(1);
            if (port.empty()) return "empty port after ':'";
        }
    } else {
        const std::size_t colon = authority.find(':');
        host = authority.substr(0, colon);
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            if (port.empty()) return "empty port after ':'";
        }
        for (char c : host) {
            if (!is_alnum(c) && c != '-' && c != '.' && c != '_')
                return "'" + std::string(host) + "' is not a host name or IP address";
        }
    }
    if (host.empty()) return "the URL names no host";
    unsigned port_number = 80;
    if (!port.empty()) {
        auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
        if (ec != std::errc{} || end != port.data() + port.size() || port_number == 0 || port_number > 65535)
            return "port '" + std::string(port) + "' is not a number from 1 to 65535";
    }
    out.host = std::string(host);
    out.port = std::to_string(port_number);
    out.host_header = std::string(authority);
    if (target.empty()) {
        out.target = default_target;
    } else if (target.front() == '?') {
        out.target = std::string(default_target) + std::string(target);
    } else {
        out.target = std::string(target);
    }
    return {};
}

// RFC 9110 tchar.
bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
    return std::all_of(s.begin(), s.end(), [&](char c) { return is_alnum(c) || extra.find(c) != std::string_view::npos; });
}

// ------------------------------------------------------------------------------ JSON body

// The protobuf JSON mapping (and so every OTLP/JSON receiver) needs valid UTF-8; strings from
// plugins may not be. Invalid sequences become U+FFFD instead of costing the whole batch.
json::string utf8(std::string_view s) {
    auto sequence_length = [&](std::size_t i) -> std::size_t {
        const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
        const unsigned char c = b(i);
        if (c < 0x80) return 1;
        auto cont = [&](std::size_t k) { return k < s.size() && (b(k) & 0xc0) == 0x80; };
        if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
        if (c >= 0xe0 && c <= 0xef) {
            if (!cont(i + 1) || !cont(i + 2)) return 0;
            if (c == 0xe0 && b(i + 1) < 0xa0) return 0;   // overlong
            if (c == 0xed && b(i + 1) >= 0xa0) return 0;  // UTF-16 surrogate
            return 3;
        }
        if (c >= 0xf0 && c <= 0xf4) {
            if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
            if (c == 0xf0 && b(i + 1) < 0x90) return 0;   // overlong
            if (c == 0xf4 && b(i + 1) >= 0x90) return 0;  // above U+10FFFF
            return 4;
        }
        return 0;
    };
    std::size_t i = 0;
    while (i < s.size()) {
        const std::size_t n = sequence_length(i);
        if (n == 0) break;
        i += n;
    }
    if (i == s.size()) return json::string(s);
    std::string fixed(s.substr(0, i));
    while (i < s.size()) {
        const std::size_t n = sequence_length(i);
        if (n == 0) {
            fixed += "\xef\xbf\xbd";
            ++i;
        } else {
            fixed.append(s.substr(i, n));
            i += n;
        }
    }
    return json::string(fixed);
}

// fixed64 in the protobuf JSON mapping: a decimal string. Times before 1970 become 0.
json::string unix_nanos(std::chrono::system_clock::time_point t) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
    return json::string(std::to_string(ns < 0 ? 0 : ns));
}

json::object any_value(const attribute_value& v) {
    json::object o;
    std::visit(
        [&](const auto& x) {
            using T = std::decay_t<decltype(x)>;
            if constexpr (std::is_same_v<T, std::string>) {
                o["stringValue"] = utf8(x);
            } else if constexpr (std::is_same_v<T, bool>) {
                o["boolValue"] = x;
            } else if constexpr (std::is_same_v<T, int64_t>) {
                o["intValue"] = std::to_string(x);  // int64: a decimal string
            } else {
                if (std::isnan(x)) {
                    o["doubleValue"] = "NaN";
                } else if (std::isinf(x)) {
                    o["doubleValue"] = x > 0 ? "Infinity" : "-Infinity";
                } else {
                    o["doubleValue"] = x;
                }
            }
        },
        v);
    return o;
}

json::array attributes_json(const attributes& attrs) {
    json::array a;
    a.reserve(attrs.size());
    for (const auto& [key, value] : attrs) {
        json::object kv;
        kv["key"] = utf8(key);
        kv["value"] = any_value(value);
        a.emplace_back(std::move(kv));
    }
    return a;
}

json::object span_json(const span_data& span) {
    json::object o;
    o["traceId"] = hex(span.trace_id);
    o["spanId"] = hex(span.span_id);
    if (span.parent_span_id) o["parentSpanId"] = hex(*span.parent_span_id);
    o["name"] = utf8(span.name);
    o["kind"] = 1;  // SPAN_KIND_INTERNAL
    o["startTimeUnixNano"] = unix_nanos(span.start);
    o["endTimeUnixNano"] = unix_nanos(span.end);
    o["attributes"] = attributes_json(span.attributes);
    json::array events;
    events.reserve(span.events.size());
    for (const auto& e : span.events) {
        json::object ev;
        ev["timeUnixNano"] = unix_nanos(e.time);
        ev["name"] = utf8(e.name);
        ev["attributes"] = attributes_json(e.attributes);
        events.emplace_back(std::move(ev));
    }
    o["events"] = std::move(events);
    json::object status;
    status["code"] = span.error ? 2 : 1;  // STATUS_CODE_ERROR : STATUS_CODE_OK
    if (!span.status_message.empty()) status["message"] = utf8(span.status_message);
    o["status"] = std::move(status);
    return o;
}

// ----------------------------------------------------------------------------- HTTP client

enum class post_result { ok, http_error, network_error };

struct post_outcome {
    post_result result = post_result::network_error;
    unsigned status = 0;       ///< the HTTP status, when one was received
    std::string error;         ///< what went wrong, for the log
    std::string body;          ///< the answer's body (at most response_body_limit bytes)
};

/// One POST on the exporter's private io_context: resolve (unless the host is an IP literal),
/// connect, write and read, with one deadline over connect, write and read. The calling thread
/// runs the io_context until the request is done, so to it this is a blocking call.
class http_post {
public:
    http_post(net::io_context& io, const http_endpoint& endpoint, http::request<http::string_body>& request,
              steady::time_point deadline)
        : io_(io), endpoint_(endpoint), request_(request), deadline_(deadline), resolver_(io), stream_(io) {}

    post_outcome run() {
        io_.restart();
        do_resolve();
        io_.run();
        return std::move(outcome_);
    }

private:
    void do_resolve() {
        boost::system::error_code ec;
        const auto address = net::ip::make_address(endpoint_.host, ec);
        if (!ec) {
            const auto port = static_cast<unsigned short>(std::stoul(endpoint_.port));
            endpoints_.push_back(tcp::endpoint(address, port));
            return do_connect();
        }
        resolver_.async_resolve(endpoint_.host, endpoint_.port,
                                [this](const boost::system::error_code& ec, const tcp::resolver::results_type& r) {
                                    on_resolve(ec, r);
                                });
    }

    void on_resolve(const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
        if (ec) return fail("cannot resolve '" + endpoint_.host + "': " + ec.message());
        for (const auto& entry : results) endpoints_.push_back(entry.endpoint());
        do_connect();
    }

    void do_connect() {
        stream_.expires_at(deadline_);  // covers connect, write and read together
        stream_.async_connect(endpoints_, [this](const boost::system::error_code& ec, const tcp::endpoint&) {
            on_connect(ec);
        });
    }

    void on_connect(const boost::system::error_code& ec) {
        if (ec) return fail("cannot connect: " + describe(ec));
        http::async_write(stream_, request_, [this](const boost::system::error_code& ec, std::size_t) { on_write(ec); });
    }

    void on_write(const boost::system::error_code& ec) {
        if (ec) return fail("cannot send the request: " + describe(ec));
        parser_.body_limit(response_body_limit);
        http::async_read(stream_, buffer_, parser_, [this](const boost::system::error_code& ec, std::size_t) { on_read(ec); });
    }

    void on_read(const boost::system::error_code& ec) {
        // An answer whose body is too long still has a status worth going by.
        if (ec && !(ec == http::error::body_limit && parser_.is_header_done()))
            return fail("no answer: " + describe(ec));
        const auto& response = parser_.get();
        outcome_.status = response.result_int();
        outcome_.body = response.body();
        if (outcome_.status >= 200 && outcome_.status < 300) {
            outcome_.result = post_result::ok;
        } else {
            outcome_.result = post_result::http_error;
            outcome_.error = "HTTP " + std::to_string(outcome_.status);
            if (!response.reason().empty()) outcome_.error += " " + std::string(response.reason());
        }
        close();
    }

    std::string describe(const boost::system::error_code& ec) const {
        if (ec == beast::error::timeout) return "timed out";
        return ec.message();
    }

    void fail(std::string error) {
        outcome_.result = post_result::network_error;
        outcome_.error = std::move(error);
        close();
    }

    void close() {
        boost::system::error_code ignored;
        stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
        stream_.close();
    }

    net::io_context& io_;
    const http_endpoint& endpoint_;
    http::request<http::string_body>& request_;
    const steady::time_point deadline_;
    tcp::resolver resolver_;
    beast::tcp_stream stream_;
    std::vector<tcp::endpoint> endpoints_;
    beast::flat_buffer buffer_;
    http::response_parser<http::string_body> parser_;
    post_outcome outcome_;
};

// The number of spans a collector rejected, from an ExportTraceServiceResponse's
// partialSuccess.rejectedSpans (int64: a string, though some receivers send a number).
uint64_t rejected_spans(std::string_view body) {
    boost::system::error_code ec;
    const json::value v = json::parse(body, ec);
    if (ec || !v.is_object()) return 0;
    const auto* partial = v.get_object().if_contains("partialSuccess");
    if (!partial || !partial->is_object()) return 0;
    const auto* rejected = partial->get_object().if_contains("rejectedSpans");
    if (!rejected) return 0;
    if (rejected->is_int64() && rejected->get_int64() > 0) return static_cast<uint64_t>(rejected->get_int64());
    if (rejected->is_uint64()) return rejected->get_uint64();
    if (rejected->is_string()) {
        uint64_t n = 0;
        const auto& s = rejected->get_string();
        auto [end, err] = std::from_chars(s.data(), s.data() + s.size(), n);
        if (err == std::errc{} && end == s.data() + s.size()) return n;
    }
    return 0;
}

std::string quoted_body(std::string_view body) {
    std::string s(body.substr(0, quoted_body_limit));
    if (body.size() > quoted_body_limit) s += "...";
    return std::string(utf8(s));
}

}  // namespace

// ------------------------------------------------------------------------------ trace context

std::string trace_context::trace_id_hex() const { return hex(trace_id); }
std::string trace_context::span_id_hex() const { return hex(span_id); }

std::string trace_context::to_traceparent() const {
    std::string s;
    s.reserve(55);
    s += "00-";
    append_hex(s, trace_id.data(), trace_id.size());
    s += '-';
    append_hex(s, span_id.data(), span_id.size());
    s += '-';
    const uint8_t sampled_only = flags & 1u;
    append_hex(s, &sampled_only, 1);
    return s;
}

std::optional<trace_context> trace_context::parse(std::string_view s) noexcept {
    // Optional whitespace around a header field value is not part of the value (RFC 9110 5.5).
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);

    // version "-" trace-id "-" parent-id "-" trace-flags: 2 + 1 + 32 + 1 + 16 + 1 + 2 = 55.
    constexpr std::size_t length_v00 = 55;
    if (s.size() < length_v00) return std::nullopt;
    uint8_t version = 0;
    if (!decode_hex(s.substr(0, 2), &version) || s[2] != '-') return std::nullopt;
    if (version == 0xff) return std::nullopt;
    if (version == 0x00 && s.size() != length_v00) return std::nullopt;
    // A later version may append fields, each after a '-'; nothing else may follow the flags.
    if (s.size() > length_v00 && s[length_v00] != '-') return std::nullopt;
    if (s[35] != '-' || s[52] != '-') return std::nullopt;

    trace_context ctx;
    uint8_t flags = 0;
    if (!decode_hex(s.substr(3, 32), ctx.trace_id.data()) || !decode_hex(s.substr(36, 16), ctx.span_id.data()) ||
        !decode_hex(s.substr(53, 2), &flags)) {
        return std::nullopt;
    }
    if (all_zero(ctx.trace_id) || all_zero(ctx.span_id)) return std::nullopt;
    ctx.flags = flags & 1u;
    return ctx;
}

void random_id(random_source& random, uint8_t* bytes, std::size_t n) noexcept {
    if (n == 0) return;
    auto draw = [&] {
        // next_unit() has 53 random bits (an integer multiple of 2^-53); take the top 48.
        double u = random.next_unit();
        if (!(u >= 0.0)) u = 0.0;
        if (u >= 1.0) u = std::nextafter(1.0, 0.0);
        return static_cast<uint64_t>(std::ldexp(u, 53)) >> 5;
    };
    for (int round = 0; round < 4; ++round) {
        bool zero = true;
        for (std::size_t i = 0; i < n; i += 6) {
            const uint64_t bits = draw();
            for (std::size_t k = 0; k < 6 && i + k < n; ++k) {
                bytes[i + k] = static_cast<uint8_t>(bits >> (40 - 8 * k));
                zero = zero && bytes[i + k] == 0;
            }
        }
        if (!zero) return;
    }
    bytes[n - 1] = 1;  // a source stuck at zero still gets a valid id
}

// ----------------------------------------------------------------------------- validation

std::string check_otlp_endpoint(std::string_view url) {
    http_endpoint ignored;
    return parse_endpoint(url, ignored);
}

std::string check_http_header(std::string_view name, std::string_view value) {
    if (!is_token(name)) return "'" + std::string(name) + "' is not a valid HTTP header name";
    for (std::string_view reserved : {"host", "content-type", "content-length", "transfer-encoding", "connection"}) {
        if (ascii_iequals(name, reserved)) return "the exporter sets '" + std::string(name) + "' itself";
    }
    for (char c : value) {
        const auto u = static_cast<unsigned char>(c);
        if ((u < 0x20 && c != '\t') || u == 0x7f) return "header values cannot contain control characters";
    }
    return {};
}

// ------------------------------------------------------------------------------ OTLP exporter

std::string otlp_http_exporter::to_otlp_json(const std::vector<span_data>& spans, std::string_view service_name) {
    json::array span_array;
    span_array.reserve(spans.size());
    for (const auto& span : spans) span_array.emplace_back(span_json(span));

    json::object scope;
    scope["name"] = "toolhost";
    scope["version"] = TOOLHOST_VERSION_STRING;
    json::object scope_spans;
    scope_spans["scope"] = std::move(scope);
    scope_spans["spans"] = std::move(span_array);

    json::object resource;
    resource["attributes"] = attributes_json({{"service.name", std::string(service_name)}});
    // emplace_back, not an initializer list: that would copy every span.
    json::array scope_spans_array;
    scope_spans_array.emplace_back(std::move(scope_spans));
    json::object resource_spans;
    resource_spans["resource"] = std::move(resource);
    resource_spans["scopeSpans"] = std::move(scope_spans_array);

    json::array resource_spans_array;
    resource_spans_array.emplace_back(std::move(resource_spans));
    json::object request;
    request["resourceSpans"] = std::move(resource_spans_array);
    return json::serialize(request);
}

struct otlp_http_exporter::impl {
    impl(otlp_options o, http_endpoint e, metrics_registry& metrics)
        : options(std::move(o)),
          endpoint(std::move(e)),
          max_batch(std::min(options.max_batch, options.max_queue)),
          exported(metrics.counters("toolhost_trace_spans_exported_total", "Spans the OTLP collector accepted.").with({})),
          dropped_queue_full(dropped_family(metrics).with({"queue_full"})),
          dropped_export_failed(dropped_family(metrics).with({"export_failed"})),
          requests_ok(requests_family(metrics).with({"ok"})),
          requests_http_error(requests_family(metrics).with({"http_error"})),
          requests_network_error(requests_family(metrics).with({"network_error"})),
          ring(options.max_queue) {}

    static counter_family& dropped_family(metrics_registry& m) {
        return m.counters("toolhost_trace_spans_dropped_total",
                          "Spans that never reached the OTLP collector, by reason.", {"reason"});
    }
    static counter_family& requests_family(metrics_registry& m) {
        return m.counters("toolhost_trace_export_requests_total", "OTLP export requests, by result.", {"result"});
    }

    void run();
    void send(std::vector<span_data>& batch, steady::time_point deadline);
    void warn(std::string_view message, std::string_view error, uint64_t spans);

    const otlp_options options;
    const http_endpoint endpoint;
    const std::size_t max_batch;

    counter& exported;
    counter& dropped_queue_full;
    counter& dropped_export_failed;
    counter& requests_ok;
    counter& requests_http_error;
    counter& requests_network_error;

    // --- shared with callers, under mutex
    std::mutex mutex;
    std::condition_variable work;  // to the worker: a full batch, a flush, or stop
    std::condition_variable done;  // to flush(): a request finished
    // A ring of max_queue slots, allocated up front, so export_span() only moves a span in.
    std::vector<span_data> ring;
    std::size_t head = 0;
    std::size_t count = 0;
    uint64_t accepted = 0;        // spans ever queued
    uint64_t taken = 0;           // of those, taken by the worker
    uint64_t finished = 0;        // of those, whose request finished (or that were dropped)
    uint64_t flush_upto = 0;      // flush() wants every span before this one sent
    uint64_t full_unlogged = 0;   // queue-full drops not yet reported in the log
    bool stopping = false;
    bool worker_done = false;
    steady::time_point stop_deadline{};

    // --- the worker's own
    net::io_context io{1};
    steady::time_point next_warning{};
    uint64_t warnings_suppressed = 0;
    uint64_t failures_since_ok = 0;
    std::thread worker;
};

// At most one warning per error_log_interval: a dead collector costs a line a minute, not one
// per batch. The next warning written says how many were held back.
void otlp_http_exporter::impl::warn(std::string_view message, std::string_view error, uint64_t spans) {
    const auto now = steady::now();
    if (now < next_warning) {
        ++warnings_suppressed;
        return;
    }
    next_warning = now + options.error_log_interval;
    const uint64_t suppressed = std::exchange(warnings_suppressed, 0);
    logging::write(logging::level::warning, log_channel, message,
                   {{"endpoint", options.endpoint},
                    {"error", error},
                    {"spans", spans},
                    {"warnings_suppressed", suppressed > 0 ? json::value(suppressed) : json::value(nullptr)}});
}

void otlp_http_exporter::impl::send(std::vector<span_data>& batch, steady::time_point deadline) {
    const uint64_t n = batch.size();
    http::request<http::string_body> request{http::verb::post, endpoint.target, 11};
    request.set(http::field::host, endpoint.host_header);
    request.set(http::field::user_agent, "toolhost/" TOOLHOST_VERSION_STRING);
    request.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : options.headers) request.set(name, value);
    request.body() = to_otlp_json(batch, options.service_name);
    request.prepare_payload();
    batch.clear();  // the spans' memory goes back here, on the exporter's thread

    post_outcome outcome = http_post(io, endpoint, request, deadline).run();

    switch (outcome.result) {
    case post_result::ok: {
        requests_ok.inc();
        const uint64_t rejected = std::min(rejected_spans(outcome.body), n);
        exported.inc(n - rejected);
        if (rejected > 0) {
            dropped_export_failed.inc(rejected);
            warn("the OTLP collector rejected spans", quoted_body(outcome.body), rejected);
        }
        if (failures_since_ok > 0) {
            logging::write(logging::level::info, log_channel, "OTLP export works again",
                           {{"endpoint", options.endpoint}, {"failed_requests", failures_since_ok}});
            failures_since_ok = 0;
        }
        return;
    }
    case post_result::http_error:
        requests_http_error.inc();
        if (!outcome.body.empty()) outcome.error += ": " + quoted_body(outcome.body);
        break;
    case post_result::network_error:
        requests_network_error.inc();
        break;
    }
    dropped_export_failed.inc(n);
    ++failures_since_ok;
    warn("OTLP export failed; dropped the batch", outcome.error, n);
}

void otlp_http_exporter::impl::run() {
    std::vector<span_data> batch;
    batch.reserve(max_batch);
    auto due = steady::now() + options.flush_interval;
    std::unique_lock lock(mutex);
    for (;;) {
        work.wait_until(lock, due, [&] { return stopping || count >= max_batch || flush_upto > taken; });
        if (full_unlogged > 0) {
            const uint64_t dropped = std::exchange(full_unlogged, 0);
            lock.unlock();
            warn("the span queue is full; dropped spans",
                 "more than max_queue (" + std::to_string(options.max_queue) + ") spans waiting", dropped);
            lock.lock();
        }
        const auto now = steady::now();
        if (count == 0) {
            if (stopping) break;
            if (now >= due) due = now + options.flush_interval;
            continue;
        }
        if (!(stopping || count >= max_batch || flush_upto > taken || now >= due)) continue;
        if (stopping && now >= stop_deadline) {
            // Out of time at shutdown: what is left is dropped, counted and said once.
            const uint64_t left = count;
            for (; count > 0; --count, head = (head + 1) % ring.size()) ring[head] = span_data{};
            taken += left;
            finished += left;
            dropped_export_failed.inc(left);
            lock.unlock();
            logging::write(logging::level::warning, log_channel, "shutting down; dropped spans not sent in time",
                           {{"endpoint", options.endpoint}, {"spans", left}});
            lock.lock();
            break;
        }

        const std::size_t n = std::min(count, max_batch);
        for (std::size_t i = 0; i < n; ++i) {
            batch.push_back(std::move(ring[head]));
            head = (head + 1) % ring.size();
        }
        count -= n;
        taken += n;
        const auto deadline = stopping ? std::min(now + options.request_timeout, stop_deadline)
                                       : now + options.request_timeout;
        lock.unlock();
        send(batch, deadline);
        lock.lock();
        finished += n;
        done.notify_all();
        due = steady::now() + options.flush_interval;
    }
    worker_done = true;
    done.notify_all();
}

std::unique_ptr<otlp_http_exporter> otlp_http_exporter::create(otlp_options options, metrics_registry& metrics,
                                                               std::string* error) {
    auto failed = [&](std::string message) -> std::unique_ptr<otlp_http_exporter> {
        if (error) *error = std::move(message);
        return nullptr;
    };
    http_endpoint endpoint;
    if (auto problem = parse_endpoint(options.endpoint, endpoint); !problem.empty())
        return failed("OTLP endpoint \"" + options.endpoint + "\": " + problem);
    for (const auto& [name, value] : options.headers) {
        if (auto problem = check_http_header(name, value); !problem.empty()) return failed("OTLP header: " + problem);
    }
    if (options.max_queue == 0 || options.max_queue > otlp_options::queue_limit)
        return failed("max_queue must be from 1 to " + std::to_string(otlp_options::queue_limit));
    if (options.max_batch == 0) return failed("max_batch must be at least 1");
    if (options.flush_interval.count() <= 0) return failed("flush_interval must be positive");
    if (options.request_timeout.count() <= 0) return failed("request_timeout must be positive");
    if (options.error_log_interval.count() < 0) return failed("error_log_interval must not be negative");

    auto p = std::make_unique<impl>(std::move(options), std::move(endpoint), metrics);
    impl* raw = p.get();
    p->worker = std::thread([raw] { raw->run(); });
    return std::unique_ptr<otlp_http_exporter>(new otlp_http_exporter(std::move(p)));
}

otlp_http_exporter::otlp_http_exporter(std::unique_ptr<impl> p) : impl_(std::move(p)) {}

otlp_http_exporter::~otlp_http_exporter() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
        impl_->stop_deadline = steady::now() + impl_->options.request_timeout;
    }
    impl_->work.notify_one();
    impl_->worker.join();
}

void otlp_http_exporter::export_span(span_data span) noexcept {
    bool wake = false;
    {
        std::lock_guard lock(impl_->mutex);
        if (impl_->count == impl_->ring.size() || impl_->worker_done) {
            impl_->dropped_queue_full.inc();
            ++impl_->full_unlogged;
            return;  // `span` is freed on return, here: dropping must not wait for anything
        }
        impl_->ring[(impl_->head + impl_->count) % impl_->ring.size()] = std::move(span);
        ++impl_->count;
        ++impl_->accepted;
        wake = impl_->count == impl_->max_batch;
    }
    if (wake) impl_->work.notify_one();
}

void otlp_http_exporter::flush(std::chrono::milliseconds timeout) noexcept {
    const auto deadline = steady::now() + timeout;
    std::unique_lock lock(impl_->mutex);
    const uint64_t target = impl_->accepted;
    if (impl_->finished >= target || impl_->worker_done) return;
    impl_->flush_upto = std::max(impl_->flush_upto, target);
    impl_->work.notify_one();
    impl_->done.wait_until(lock, deadline, [&] { return impl_->finished >= target || impl_->worker_done; });
}

}  // namespace toolhost
