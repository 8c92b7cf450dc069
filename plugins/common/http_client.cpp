#include "toolhost_plugins/http_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <toolhost/json_text.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdlib>
#include <ctime>

namespace toolhost::plugins::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

namespace {

[[noreturn]] void fail(sdk::status code, std::string message) { throw sdk::error(code, message); }

bool iequals(std::string_view a, std::string_view b) noexcept {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

// A header name or value with CR, LF or NUL would let a configured value (a token, say) inject
// headers of its own.
void check_header_text(std::string_view text, std::string_view what) {
    if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos)
        fail(sdk::status::invalid_argument, std::string(what) + ": must not contain CR, LF or NUL");
}

std::string host_header(const url& u) {
    const bool v6 = u.host.find(':') != std::string::npos;
    std::string h = v6 ? "[" + u.host + "]" : u.host;
    const uint16_t default_port = u.tls() ? 443 : 80;
    if (u.port != default_port) h += ":" + std::to_string(u.port);
    return h;
}

bool is_ip_literal(const std::string& host) {
    boost::system::error_code ec;
    asio::ip::make_address(host, ec);
    return !ec;
}

std::string ms_text(milliseconds d) { return std::to_string(d.count()) + " ms"; }

// Printable, single-line, bounded: error bodies end up in log lines and error messages.
std::string excerpt(std::string_view text, size_t limit = 300) {
    std::string out;
    for (char c : text.substr(0, limit)) {
        const auto u = static_cast<unsigned char>(c);
        out += (u < 0x20 || u == 0x7f) ? ' ' : c;
    }
    if (text.size() > limit) out += "...";
    return out;
}

// The server's own explanation: {"error":"..."}, {"error":{"message":"..."}}, {"message":"..."}
// or an RFC 9457 problem ({"detail"/"title"}); otherwise the start of the body.
std::string server_message(const response& r) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (!ec && v.is_object()) {
        const auto& o = v.as_object();
        auto str = [&](const json::object& obj, std::string_view key) -> std::optional<std::string> {
            if (const auto* f = obj.if_contains(key); f && f->is_string()) return std::string(f->as_string());
            return std::nullopt;
        };
        if (const auto* e = o.if_contains("error")) {
            if (e->is_string()) return excerpt(e->as_string());
            if (e->is_object())
                if (auto m = str(e->as_object(), "message")) return excerpt(*m);
        }
        for (auto key : {"message", "detail", "title"})
            if (auto m = str(o, key)) return excerpt(*m);
    }
    return excerpt(r.body);
}

bool is_certificate_failure(const boost::system::error_code& ec) {
    return ec.category() == asio::error::get_ssl_category() &&
           ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

// ------------------------------------------------------------------------------- one exchange

// Runs the asynchronous steps of one request on a private io_context, one step at a time, and
// enforces the deadlines and the call's cancellation between handlers. Plain sockets rather than
// beast::tcp_stream: one place decides about time, for resolving, connecting and I/O alike.
class exchange {
public:
    exchange(const client_options& options, asio::ssl::context* tls, const url& target, const sdk::call_context* call)
        : options_(options), tls_(tls), url_(target), call_(call), socket_(io_), resolver_(io_) {
        const auto now = steady_clock::now();
        overall_ = now + options_.request_timeout;
        connect_ = now + std::min(options_.connect_timeout, options_.request_timeout);
        // Compared as durations first: a far-away call deadline must not overflow a time_point.
        if (call_ && call_->remaining() < options_.request_timeout) {
            call_deadline_ = now + std::chrono::duration_cast<steady_clock::duration>(call_->remaining());
            overall_ = *call_deadline_;
            connect_ = std::min(connect_, overall_);
        }
    }

    response run(const request& req) {
        bhttp::request<bhttp::string_body> msg = build(req);
        connect();
        if (url_.tls()) {
            tls_stream_.emplace(std::move(socket_), *tls_);
            handshake(*tls_stream_);
            return transfer(*tls_stream_, msg);
        }
        return transfer(socket_, msg);
    }

private:
    enum class interruption { none, timeout, cancelled };

    // Runs handlers until `done`; on a deadline or a cancelled call, closes the socket (which
    // makes the pending operation complete with an error) and says why.
    interruption wait(const bool& done, steady_clock::time_point deadline) {
        constexpr milliseconds poll{20};
        interruption why = interruption::none;
        while (!done) {
            const auto now = steady_clock::now();
            if (why == interruption::none) {
                if (call_ && call_->cancelled())
                    why = interruption::cancelled;
                else if (now >= deadline)
                    why = interruption::timeout;
                if (why != interruption::none) abort_io();
            }
            auto until = why == interruption::none ? deadline : now + poll;
            if (call_) until = std::min(until, now + poll);
            if (io_.stopped()) io_.restart();
            if (io_.run_one_until(until) == 0 && io_.stopped() && !done)
                fail(sdk::status::internal, "HTTP client: an operation ended without completing");
        }
        return why;
    }

    void abort_io() noexcept {
        boost::system::error_code ignored;
        resolver_.cancel();
        socket_.close(ignored);
        if (tls_stream_) tls_stream_->lowest_layer().close(ignored);
    }

    // Says which limit ended the wait for `deadline`: the call's deadline, or the named option.
    [[noreturn]] void fail_interrupted(interruption why, std::string_view doing, steady_clock::time_point deadline,
                                       milliseconds limit, std::string_view limit_name) const {
        std::string message = "HTTP " + std::string(doing) + " " + url_.origin();
        if (why == interruption::cancelled) fail(sdk::status::cancelled, message + ": the call was cancelled");
        if (call_deadline_ && deadline == *call_deadline_)
            message += ": timed out at the call's deadline";
        else
            message += ": timed out after " + ms_text(limit) + " (" + std::string(limit_name) + ")";
        fail(sdk::status::unavailable, message);
    }

    // The connect phase ends at the earliest of the connect timeout, the request timeout and the
    // call's deadline.
    [[noreturn]] void fail_connect_interrupted(interruption why, std::string_view doing) const {
        if (options_.connect_timeout <= options_.request_timeout)
            fail_interrupted(why, doing, connect_, options_.connect_timeout, "connect_timeout");
        fail_interrupted(why, doing, connect_, options_.request_timeout, "request_timeout");
    }

    // IP literals skip the resolver (and its helper thread): loopback backends and tests never
    // wait for DNS. A name lookup that hangs cannot be interrupted (getaddrinfo blocks in Asio's
    // resolver thread); the deadline then fires as soon as the lookup returns.
    void connect() {
        bool done = false;
        boost::system::error_code ec;
        std::vector<tcp::endpoint> endpoints;
        if (is_ip_literal(url_.host)) {
            endpoints.emplace_back(asio::ip::make_address(url_.host), url_.port);
        } else {
            resolve(endpoints);
        }
        asio::async_connect(socket_, endpoints, [&](const boost::system::error_code& e, const tcp::endpoint&) {
            ec = e;
            done = true;
        });
        if (auto why = wait(done, connect_); why != interruption::none) fail_connect_interrupted(why, "connecting to");
        if (ec) fail(sdk::status::unavailable, "HTTP cannot connect to " + url_.origin() + ": " + ec.message());
        socket_.set_option(tcp::no_delay(true), ec);  // a request is one write; do not hold it back
    }

    void resolve(std::vector<tcp::endpoint>& endpoints) {
        bool done = false;
        boost::system::error_code ec;
        resolver_.async_resolve(url_.host, std::to_string(url_.port), tcp::resolver::numeric_service,
                                [&](const boost::system::error_code& e, const tcp::resolver::results_type& r) {
                                    ec = e;
                                    for (const auto& entry : r) endpoints.push_back(entry.endpoint());
                                    done = true;
                                });
        if (auto why = wait(done, connect_); why != interruption::none) fail_connect_interrupted(why, "resolving");
        if (ec) fail(sdk::status::unavailable, "HTTP cannot resolve " + url_.host + ": " + ec.message());
    }

    void handshake(asio::ssl::stream<tcp::socket>& stream) {
        if (!is_ip_literal(url_.host) && !SSL_set_tlsext_host_name(stream.native_handle(), url_.host.c_str()))
            fail(sdk::status::internal, "HTTP cannot set the TLS server name for " + url_.host);
        if (options_.verify_tls) stream.set_verify_callback(asio::ssl::host_name_verification(url_.host));
        bool done = false;
        boost::system::error_code ec;
        stream.async_handshake(asio::ssl::stream_base::client, [&](const boost::system::error_code& e) {
            ec = e;
            done = true;
        });
        if (auto why = wait(done, connect_); why != interruption::none)
            fail_connect_interrupted(why, "TLS handshake with");
        if (ec && is_certificate_failure(ec))
            fail(sdk::status::failed_precondition,
                 "HTTP TLS certificate of " + url_.origin() + " not trusted: " + ec.message());
        if (ec) fail(sdk::status::unavailable, "HTTP TLS handshake with " + url_.origin() + " failed: " + ec.message());
    }

    bhttp::request<bhttp::string_body> build(const request& req) const {
        check_header_text(req.method, "method");
        if (req.method.empty()) fail(sdk::status::invalid_argument, "method: must not be empty");
        bhttp::request<bhttp::string_body> msg;
        msg.method_string(req.method);
        msg.target(url_.target);
        msg.version(11);
        msg.set(bhttp::field::host, host_header(url_));
        msg.set(bhttp::field::user_agent, options_.user_agent);
        msg.set(bhttp::field::connection, "close");
        if (!options_.bearer_token.empty()) {
            check_header_text(options_.bearer_token, "bearer_token");
            msg.set(bhttp::field::authorization, "Bearer " + options_.bearer_token);
        }
        if (call_ && !call_->traceparent().empty()) {
            check_header_text(call_->traceparent(), "traceparent");
            msg.set("traceparent", call_->traceparent());
        }
        for (const auto& [name, value] : req.headers) {
            check_header_text(name, "header name");
            check_header_text(value, "header " + name);
            msg.set(name, value);
        }
        msg.body() = req.body;
        const bool has_body_method =
            iequals(req.method, "POST") || iequals(req.method, "PUT") || iequals(req.method, "PATCH");
        if (!req.body.empty() || has_body_method) msg.prepare_payload();
        return msg;
    }

    template <class Stream>
    response transfer(Stream& stream, bhttp::request<bhttp::string_body>& msg) {
        bool done = false;
        boost::system::error_code ec;
        bhttp::async_write(stream, msg, [&](const boost::system::error_code& e, size_t) {
            ec = e;
            done = true;
        });
        if (auto why = wait(done, overall_); why != interruption::none)
            fail_interrupted(why, "request to", overall_, options_.request_timeout, "request_timeout");
        if (ec) fail(sdk::status::unavailable, "HTTP sending to " + url_.origin() + " failed: " + ec.message());

        beast::flat_buffer buffer;
        bhttp::response_parser<bhttp::string_body> parser;
        parser.header_limit(64 * 1024);
        parser.body_limit(options_.max_body_bytes);
        done = false;
        bhttp::async_read(stream, buffer, parser, [&](const boost::system::error_code& e, size_t) {
            ec = e;
            done = true;
        });
        if (auto why = wait(done, overall_); why != interruption::none)
            fail_interrupted(why, "waiting for the response of", overall_, options_.request_timeout, "request_timeout");
        // A TLS server that closes without close_notify ends a body delimited by the end of the
        // connection with stream_truncated instead of eof; like most clients, accept it as the
        // end. (Bodies with a length or chunked framing never get here complete.)
        if (ec == asio::ssl::error::stream_truncated && parser.need_eof()) {
            parser.put_eof(ec);
        }
        if (ec == bhttp::error::body_limit)
            fail(sdk::status::resource_exhausted, "HTTP response of " + url_.origin() + url_.target +
                                                      " is larger than the limit of " +
                                                      std::to_string(options_.max_body_bytes) + " bytes");
        if (ec)
            fail(sdk::status::unavailable,
                 "HTTP reading the response of " + url_.origin() + " failed: " + ec.message());

        // The whole response is read and the request said "Connection: close": closing without
        // a TLS close_notify is safe here (the body's length was known or ended the connection)
        // and saves a round trip to servers that never answer it.
        abort_io();
        auto res = parser.release();
        response out;
        out.status = static_cast<int>(res.result_int());
        for (const auto& f : res) out.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        out.body = std::move(res.body());
        return out;
    }

    const client_options& options_;
    asio::ssl::context* tls_;
    const url& url_;
    const sdk::call_context* call_;
    asio::io_context io_{1};
    tcp::socket socket_;
    tcp::resolver resolver_;
    std::optional<asio::ssl::stream<tcp::socket>> tls_stream_;  // https: owns the socket after connect
    steady_clock::time_point connect_;
    steady_clock::time_point overall_;
    std::optional<steady_clock::time_point> call_deadline_;  // when it is the earliest limit
};

}  // namespace

// ----------------------------------------------------------------------------------------- url

std::string url::origin() const { return scheme + "://" + host_header(*this); }

url parse_url(std::string_view text, std::string_view what) {
    const std::string field(what);
    auto parsed = boost::urls::parse_uri(text);
    if (!parsed) fail(sdk::status::invalid_argument, field + ": not an absolute URL: " + excerpt(text, 200));
    const boost::urls::url_view& u = *parsed;
    url out;
    if (u.scheme_id() == boost::urls::scheme::http)
        out.scheme = "http";
    else if (u.scheme_id() == boost::urls::scheme::https)
        out.scheme = "https";
    else
        fail(sdk::status::invalid_argument,
             field + ": scheme must be http or https, got '" + std::string(u.scheme()) + "'");
    if (u.has_userinfo())
        fail(sdk::status::invalid_argument, field + ": user info in the URL is not supported (use a bearer token)");
    out.host = u.host_address();
    if (out.host.empty()) fail(sdk::status::invalid_argument, field + ": the URL has no host");
    if (u.has_port()) {
        const auto p = u.port();
        unsigned value = 0;
        auto [ptr, ec] = std::from_chars(p.data(), p.data() + p.size(), value);
        if (p.empty() || ec != std::errc() || ptr != p.data() + p.size() || value == 0 || value > 65535)
            fail(sdk::status::invalid_argument, field + ": invalid port '" + std::string(p) + "'");
        out.port = static_cast<uint16_t>(value);
    } else {
        out.port = out.tls() ? 443 : 80;
    }
    out.target = std::string(u.encoded_path());
    if (out.target.empty()) out.target = "/";
    if (u.has_query()) out.target += "?" + std::string(u.encoded_query());
    // A fragment never goes on the wire; drop it rather than refuse the URL.
    return out;
}

std::string encode_component(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
            out += c;
        } else {
            out += '%';
            out += hex[u >> 4];
            out += hex[u & 0x0f];
        }
    }
    return out;
}

// ------------------------------------------------------------------------- request / response

request request::json(std::string method, std::string url, const boost::json::value& body) {
    request r;
    r.method = std::move(method);
    r.url = std::move(url);
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = toolhost::json_text(body);
    return r;
}

std::optional<std::string_view> response::header(std::string_view name) const noexcept {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return std::string_view(v);
    return std::nullopt;
}

boost::json::value response::json() const {
    boost::system::error_code ec;
    auto v = boost::json::parse(body, ec);
    if (ec)
        fail(sdk::status::internal,
             method + " " + url + ": the response is not valid JSON (" + ec.message() + "): " + excerpt(body, 120));
    return v;
}

// -------------------------------------------------------------------------------------- client

struct client::impl {
    client_options options;
    // Built once; an SSL_CTX is safe to share between threads once configured.
    asio::ssl::context tls{asio::ssl::context::tls_client};
};

client::client(client_options options) : impl_(std::make_unique<impl>()) {
    impl_->options = std::move(options);
    auto& tls = impl_->tls;
    boost::system::error_code ec;
    tls.set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                    asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
    // A missing system store only matters for https, where the handshake then reports it.
    tls.set_default_verify_paths(ec);
    if (!impl_->options.ca_file.empty()) {
        tls.load_verify_file(impl_->options.ca_file, ec);
        if (ec)
            fail(sdk::status::invalid_argument, "ca_file: cannot load " + impl_->options.ca_file + ": " + ec.message());
    }
    tls.set_verify_mode(impl_->options.verify_tls ? asio::ssl::verify_peer : asio::ssl::verify_none);
    check_header_text(impl_->options.bearer_token, "bearer_token");
    check_header_text(impl_->options.user_agent, "user_agent");
}

client::~client() = default;
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;

const client_options& client::options() const noexcept { return impl_->options; }

response client::send(const request& req, const sdk::call_context* call) const {
    const url target = parse_url(req.url);
    if (call && call->cancelled())
        fail(sdk::status::cancelled, "HTTP " + req.method + " " + target.origin() + ": the call was cancelled");
    exchange x(impl_->options, &impl_->tls, target, call);
    response r = x.run(req);
    r.method = req.method;
    r.url = target.origin() + target.target;
    return r;
}

// -------------------------------------------------------------------------------------- status

sdk::status status_for(int s) noexcept {
    if (s >= 200 && s < 300) return sdk::status::ok;
    switch (s) {
    case 400:
    case 413:
    case 414:
    case 415:
    case 422: return sdk::status::invalid_argument;
    case 401: return sdk::status::unauthenticated;
    case 403: return sdk::status::permission_denied;
    case 404:
    case 410: return sdk::status::not_found;
    case 409: return sdk::status::already_exists;
    case 412: return sdk::status::failed_precondition;
    case 408:
    case 429: return sdk::status::unavailable;
    case 501: return sdk::status::unimplemented;
    default: break;
    }
    if (s >= 500 && s < 600) return sdk::status::unavailable;
    if (s >= 400 && s < 500) return sdk::status::failed_precondition;
    if (s >= 300 && s < 400) return sdk::status::failed_precondition;
    return sdk::status::unknown;
}

std::optional<milliseconds> parse_retry_after(std::string_view v, std::chrono::system_clock::time_point now) {
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
    if (v.empty()) return std::nullopt;
    constexpr int64_t max_seconds = 24 * 3600;  // a hint beyond a day is not a retry hint
    if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        int64_t seconds = 0;
        auto [ptr, ec] = std::from_chars(v.data(), v.data() + v.size(), seconds);
        if (ec == std::errc::result_out_of_range || seconds > max_seconds)
            seconds = max_seconds;
        else if (ec != std::errc())
            return std::nullopt;
        return std::chrono::seconds(seconds);
    }
    // IMF-fixdate, the only date form senders may generate: "Sun, 06 Nov 1994 08:49:37 GMT".
    static constexpr std::string_view months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    if (v.size() != 29 || v[3] != ',' || v.substr(25) != " GMT") return std::nullopt;
    auto number = [&](size_t pos, size_t len, int& out) {
        auto [ptr, ec] = std::from_chars(v.data() + pos, v.data() + pos + len, out);
        return ec == std::errc() && ptr == v.data() + pos + len;
    };
    std::tm tm{};
    int day = 0, year = 0, hour = 0, minute = 0, second = 0;
    if (!number(5, 2, day) || !number(12, 4, year) || !number(17, 2, hour) || !number(20, 2, minute) ||
        !number(23, 2, second) || v[19] != ':' || v[22] != ':')
        return std::nullopt;
    const auto month = std::find(std::begin(months), std::end(months), v.substr(8, 3));
    if (month == std::end(months)) return std::nullopt;
    tm.tm_mday = day;
    tm.tm_mon = static_cast<int>(month - std::begin(months));
    tm.tm_year = year - 1900;
    tm.tm_hour = hour;
    tm.tm_min = minute;
    tm.tm_sec = second;
    const std::time_t when = ::timegm(&tm);
    if (when == static_cast<std::time_t>(-1)) return std::nullopt;
    const auto delta = std::chrono::system_clock::from_time_t(when) - now;
    if (delta <= std::chrono::system_clock::duration::zero()) return milliseconds(0);
    return std::min(std::chrono::duration_cast<milliseconds>(delta), milliseconds(max_seconds * 1000));
}

void raise_for_status(const response& r, const sdk::call_context* call) {
    const sdk::status code = status_for(r.status);
    if (code == sdk::status::ok) return;
    std::string message = r.method + " " + r.url + ": HTTP " + std::to_string(r.status);
    const auto reason = bhttp::obsolete_reason(bhttp::int_to_status(static_cast<unsigned>(r.status)));
    if (!reason.empty() && reason != "<unknown-status>") message += " " + std::string(reason);
    if (r.status >= 300 && r.status < 400) {
        message += "; redirects are not followed";
        if (auto location = r.header("Location")) message += ", set the URL to " + excerpt(*location, 200);
    } else if (auto detail = server_message(r); !detail.empty()) {
        message += ": " + detail;
    }
    if (call && code == sdk::status::unavailable)
        if (auto header = r.header("Retry-After"))
            if (auto delay = parse_retry_after(*header)) call->retry_after(*delay);
    throw sdk::error(code, message);
}

std::string bearer_token(const args& config, std::string_view where) {
    if (auto env = config.optional_string("bearer_token_env")) {
        const char* value = std::getenv(env->c_str());
        if (value == nullptr || *value == '\0')
            invalid_argument(std::string(where) + "/bearer_token_env", "environment variable " + *env + " is not set");
        return value;
    }
    return config.string_or("bearer_token", "");
}

}  // namespace toolhost::plugins::http
