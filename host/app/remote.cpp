#include "remote.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

namespace toolhost::cli {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;

std::string path_segment(std::string_view text) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            out += ch;
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

remote_response remote_request(std::string_view method, std::string_view base, std::string_view path,
                               std::string_view body, std::string_view token, std::chrono::milliseconds timeout,
                               std::span<const remote_header> headers) {
    remote_response out;
    auto url = boost::urls::parse_uri(base);
    if (!url || url->scheme() != "http" || url->host().empty()) {
        out.error = "'" + std::string(base) + "' is not an http://host:port URL";
        return out;
    }
    std::string host = url->host();
    if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
    const std::string port = url->has_port() ? std::string(url->port()) : "80";
    std::string target(url->path());
    while (!target.empty() && target.back() == '/') target.pop_back();
    target += path;
    try {
        asio::io_context io;
        asio::ip::tcp::resolver resolver(io);
        beast::tcp_stream stream(io);
        stream.expires_after(timeout);
        stream.connect(resolver.resolve(host, port));
        http::request<http::string_body> req(http::string_to_verb(method), target, 11);
        req.set(http::field::host, url->encoded_host_and_port());
        req.set(http::field::user_agent, "toolhost-cli");
        if (!token.empty()) req.set(http::field::authorization, "Bearer " + std::string(token));
        for (const auto& [name, value] : headers) req.set(name, value);
        if (!body.empty() || method == "POST") {
            req.set(http::field::content_type, "application/json");
            req.body() = body;
        }
        req.prepare_payload();
        http::write(stream, req);
        beast::flat_buffer buffer;
        http::response<http::string_body> res;
        http::read(stream, buffer, res);
        out.status = res.result_int();
        out.body = std::move(res.body());
        beast::error_code ec;
        stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    } catch (const std::exception& e) {
        out.error = std::string(method) + " " + std::string(base) + std::string(path) + ": " + e.what();
    }
    return out;
}

}  // namespace toolhost::cli
