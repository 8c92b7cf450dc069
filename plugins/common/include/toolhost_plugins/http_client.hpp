// A small synchronous HTTP/1.1 client for the bundled plugins (Boost.Beast underneath; this
// header pulls in neither Beast nor Asio).
//
//     toolhost::plugins::http::client_options o;
//     o.connect_timeout = 2s;
//     o.request_timeout = 10s;
//     o.bearer_token = token;
//     toolhost::plugins::http::client backend(o);
//     auto reply = backend.send(http::request::json("POST", url, body), &call);
//     http::raise_for_status(reply, &call);        // 4xx/5xx -> sdk::error with a fitting status
//     boost::json::value v = reply.json();
//
// - http:// and https:// (OpenSSL through Boost.Asio SSL, the system CA store plus an optional
//   CA file, SNI and host name verification). No proxies, no redirects (a 3xx is an error that
//   names the new location).
// - One connection per request ("Connection: close"): simple and robust for the request rates of
//   a tool; a keep-alive pool can come later behind the same interface.
// - Time: a connect timeout (DNS + TCP + TLS handshake) and an overall timeout for the whole
//   exchange, both cut short by the call's remaining deadline; the call's cancellation is polled
//   while waiting, so a cancelled call returns within a few milliseconds.
// - Errors are thrown as toolhost::sdk::error (the SDK boundary turns them into the call's
//   status): connection failures and timeouts are UNAVAILABLE, a cancelled call CANCELLED, a
//   bad URL INVALID_ARGUMENT, a response larger than the body limit RESOURCE_EXHAUSTED.
//   send() returns every HTTP response, whatever its status; raise_for_status() maps statuses.
//
// Thread safety: a client is immutable after construction; send() may run on many threads at
// once (every request has its own I/O context and connection).
#pragma once

#include <boost/json/value.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <toolhost/plugin.hpp>
#include <toolhost_plugins/args.hpp>

namespace toolhost::plugins::http {

/// An absolute http or https URL, split into what a connection needs.
struct url {
    std::string scheme;  ///< "http" or "https"
    std::string host;    ///< name or address, without brackets for IPv6
    uint16_t port = 0;   ///< explicit, or 80 / 443
    std::string target;  ///< path and query, at least "/"

    bool tls() const noexcept { return scheme == "https"; }
    /// scheme://host[:port] as used in the Host header and in messages (no user info).
    std::string origin() const;
};

/// Parses an absolute http(s) URL. Throws INVALID_ARGUMENT "<what>: ..." when it is not one
/// (other schemes, user info and a missing host are refused; a fragment is dropped).
url parse_url(std::string_view text, std::string_view what = "url");

/// Percent-encodes `text` for use as one path segment or query value (RFC 3986 unreserved
/// characters are kept).
std::string encode_component(std::string_view text);

using header_list = std::vector<std::pair<std::string, std::string>>;

struct request {
    std::string method = "GET";
    std::string url;      ///< absolute http(s) URL
    header_list headers;  ///< added as given, after the client's own
    std::string body;     ///< sent with Content-Length when not empty, or for POST/PUT/PATCH

    /// A request whose body is `body` serialized, with Content-Type: application/json.
    static request json(std::string method, std::string url, const boost::json::value& body);
};

struct response {
    int status = 0;
    header_list headers;
    std::string body;
    std::string method;  ///< of the request, for messages
    std::string url;     ///< of the request, for messages (origin + target, no user info)

    /// The first header with this name (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const noexcept;
    bool ok() const noexcept { return status >= 200 && status < 300; }
    /// The body parsed as JSON. Throws INTERNAL naming the URL when it is not JSON.
    boost::json::value json() const;
};

struct client_options {
    /// DNS, TCP connect and TLS handshake together.
    std::chrono::milliseconds connect_timeout{5000};
    /// The whole exchange, connecting included.
    std::chrono::milliseconds request_timeout{30000};
    /// Responses with a larger body fail with RESOURCE_EXHAUSTED.
    std::size_t max_body_bytes = 8u * 1024u * 1024u;
    /// Sent as "Authorization: Bearer <token>" when not empty.
    std::string bearer_token;
    std::string user_agent = "toolhost-plugin/1";
    /// Extra PEM file of trusted CAs, in addition to the system store (https only).
    std::string ca_file;
    /// Verify the server's certificate and host name (https only). Turn off only for tests.
    bool verify_tls = true;
};

class client {
public:
    /// Throws INVALID_ARGUMENT when the options cannot work (a CA file that cannot be loaded).
    explicit client(client_options options = {});
    ~client();
    client(client&&) noexcept;
    client& operator=(client&&) noexcept;
    client(const client&) = delete;
    client& operator=(const client&) = delete;

    const client_options& options() const noexcept;

    /// Sends `req` and returns the response, whatever its HTTP status. With `call`, the timeouts
    /// are cut to the call's remaining time, the call's cancellation aborts the exchange, and the
    /// call's traceparent is forwarded. Throws sdk::error as described at the top of this file.
    response send(const request& req, const sdk::call_context* call = nullptr) const;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// The status a failed HTTP response maps to: 400/413/415/422 INVALID_ARGUMENT,
/// 401 UNAUTHENTICATED, 403 PERMISSION_DENIED, 404/410 NOT_FOUND, 409 ALREADY_EXISTS,
/// 412 FAILED_PRECONDITION, 408/429/5xx UNAVAILABLE (except 501 UNIMPLEMENTED), any other 4xx
/// FAILED_PRECONDITION, 3xx FAILED_PRECONDITION (redirects are not followed). 2xx is OK.
sdk::status status_for(int http_status) noexcept;

/// The delay a Retry-After header value asks for (delta-seconds or an HTTP-date, RFC 9110
/// 10.2.3), or nullopt when it is absent or malformed. `now` is for HTTP-dates.
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// Does nothing for a 2xx response. Otherwise throws sdk::error with status_for(status) and a
/// message naming the method, the URL, the status and the server's own error message (from a
/// JSON body's "error"/"message", else the start of the body). For retryable statuses the
/// Retry-After header, when present, is handed to `call->retry_after()`.
void raise_for_status(const response& r, const sdk::call_context* call = nullptr);

/// The bearer token a configuration object gives: the environment variable named by
/// "bearer_token_env" (which must be set), else "bearer_token", else "". `where` names the
/// object in errors ("config/webhook").
std::string bearer_token(const args& config, std::string_view where);

}  // namespace toolhost::plugins::http
