#pragma once
// The OTLP exporter's HTTP side: the collector's endpoint URL, and one POST to it with a
// deadline. Internal to the host library.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

namespace toolhost::detail {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using steady = std::chrono::steady_clock;

struct http_endpoint {
    std::string host;         ///< for resolving: no brackets around an IPv6 address
    std::string port;         ///< decimal
    std::string host_header;  ///< as written in the URL, e.g. "[::1]:4318"
    std::string target;       ///< path and query
};

/// Splits and checks an endpoint URL; returns what is wrong, or "" with `out` filled.
std::string parse_endpoint(std::string_view url, http_endpoint& out);

/// The most of a collector's answer that is read; a status line and an error message fit.
inline constexpr std::size_t response_body_limit = 64 * 1024;

enum class post_result { ok, http_error, network_error };

struct post_outcome {
    post_result result = post_result::network_error;
    unsigned status = 0;  ///< the HTTP status, when one was received
    std::string error;    ///< what went wrong, for the log
    std::string body;     ///< the answer's body (at most response_body_limit bytes)
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
        resolver_.async_resolve(
            endpoint_.host, endpoint_.port,
            [this](const boost::system::error_code& ec, const tcp::resolver::results_type& r) { on_resolve(ec, r); });
    }

    void on_resolve(const boost::system::error_code& ec, const tcp::resolver::results_type& results) {
        if (ec) return fail("cannot resolve '" + endpoint_.host + "': " + ec.message());
        for (const auto& entry : results) endpoints_.push_back(entry.endpoint());
        do_connect();
    }

    void do_connect() {
        stream_.expires_at(deadline_);  // covers connect, write and read together
        stream_.async_connect(endpoints_,
                              [this](const boost::system::error_code& ec, const tcp::endpoint&) { on_connect(ec); });
    }

    void on_connect(const boost::system::error_code& ec) {
        if (ec) return fail("cannot connect: " + describe(ec));
        http::async_write(stream_, request_,
                          [this](const boost::system::error_code& ec, std::size_t) { on_write(ec); });
    }

    void on_write(const boost::system::error_code& ec) {
        if (ec) return fail("cannot send the request: " + describe(ec));
        parser_.body_limit(response_body_limit);
        http::async_read(stream_, buffer_, parser_,
                         [this](const boost::system::error_code& ec, std::size_t) { on_read(ec); });
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

}  // namespace toolhost::detail
