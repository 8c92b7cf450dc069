#include "fetch.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>

#include <openssl/ssl.h>

#include <optional>

namespace toolhost::serve::auth {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

struct target {
    std::string host;  // without brackets
    std::string port;
    std::string path;  // with the query
    bool tls = false;
};

std::optional<target> split(const std::string& url) {
    const auto u = boost::urls::parse_absolute_uri(url);
    if (!u || !u->has_authority()) return std::nullopt;
    target t;
    t.tls = u->scheme_id() == boost::urls::scheme::https;
    if (!t.tls && u->scheme_id() != boost::urls::scheme::http) return std::nullopt;
    t.host = u->host_address();
    if (t.host.size() > 2 && t.host.front() == '[') t.host = t.host.substr(1, t.host.size() - 2);
    t.port = u->has_port() ? std::string(u->port()) : (t.tls ? "443" : "80");
    t.path = u->encoded_resource().empty() ? "/" : std::string(u->encoded_resource());
    if (t.path.front() != '/') t.path.insert(0, "/");
    return t;
}

template <class Stream>
asio::awaitable<void> exchange(Stream& stream, const target& t, const fetch_options& options, fetch_result& out) {
    http::request<http::empty_body> req{http::verb::get, t.path, 11};
    // RFC 9110 section 7.2: the port unless it is the scheme's default; an IPv6 literal in brackets.
    std::string host = t.host.find(':') != std::string::npos ? "[" + t.host + "]" : t.host;
    if (t.port != (t.tls ? "443" : "80")) host += ":" + t.port;
    req.set(http::field::host, host);
    req.set(http::field::user_agent, "toolhost");
    req.set(http::field::accept, "application/json, application/jwk-set+json");
    co_await http::async_write(stream, req, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(options.max_bytes);
    co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
    const auto& res = parser.get();
    if (res.result() != http::status::ok) {
        out.error = "answered " + std::to_string(res.result_int());
        co_return;
    }
    out.body = res.body();
    out.ok = true;
}

asio::awaitable<void> run(const target& t, const fetch_options& options, asio::ssl::context* tls, fetch_result& out) {
    auto ex = co_await asio::this_coro::executor;
    tcp::resolver resolver(ex);
    const auto endpoints = co_await resolver.async_resolve(t.host, t.port, asio::use_awaitable);
    if (!tls) {
        beast::tcp_stream stream(ex);
        co_await stream.async_connect(endpoints, asio::use_awaitable);
        co_await exchange(stream, t, options, out);
        co_return;
    }
    beast::ssl_stream<beast::tcp_stream> stream(ex, *tls);
    // SNI, and the name the certificate must carry.
    if (!SSL_set_tlsext_host_name(stream.native_handle(), t.host.c_str())) {
        out.error = "TLS: the host name is not usable for SNI";
        co_return;
    }
    stream.set_verify_mode(asio::ssl::verify_peer);
    stream.set_verify_callback(asio::ssl::host_name_verification(t.host));
    co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
    co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
    co_await exchange(stream, t, options, out);
}

}  // namespace

fetch_result fetch(const std::string& url, const fetch_options& options) {
    fetch_result out;
    const auto t = split(url);
    if (!t) {
        out.error = url + ": not an http(s) URL";
        return out;
    }
    std::optional<asio::ssl::context> tls;
    if (t->tls) {
        tls.emplace(asio::ssl::context::tls_client);
        tls->set_options(asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1);
        boost::system::error_code ec;
        if (options.ca_file.empty())
            tls->set_default_verify_paths(ec);
        else
            tls->load_verify_file(options.ca_file, ec);
        if (ec) {
            out.error = url + ": the CA certificates could not be read: " + ec.message();
            return out;
        }
    }
    asio::io_context io;
    std::exception_ptr failure;
    bool finished = false;
    asio::co_spawn(io, run(*t, options, tls ? &*tls : nullptr, out), [&](std::exception_ptr e) {
        failure = e;
        finished = true;
    });
    io.run_for(options.timeout);
    if (!finished) {
        out = {};
        out.error = url + ": no answer within " + std::to_string(options.timeout.count()) + " ms";
        return out;
    }
    if (failure) {
        out = {};
        try {
            std::rethrow_exception(failure);
        } catch (const boost::system::system_error& e) {
            out.error = url + ": " + e.code().message();
        } catch (const std::exception& e) {
            out.error = url + ": " + e.what();
        }
        return out;
    }
    if (!out.ok) out.error = url + ": " + out.error;
    return out;
}

}  // namespace toolhost::serve::auth
