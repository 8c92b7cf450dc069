#include "http_server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace toolhost::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

namespace {

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

// application/x-www-form-urlencoded decoding, as query strings use it.
std::string decode(std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
            out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

}  // namespace

// ------------------------------------------------------------------------------------------ gate

void gate::open() {
    {
        std::lock_guard l(m_);
        open_ = true;
    }
    cv_.notify_all();
}

bool gate::is_open() const {
    std::lock_guard l(m_);
    return open_;
}

void gate::wait() const {
    std::unique_lock l(m_);
    cv_.wait(l, [&] { return open_; });
}

// -------------------------------------------------------------------------- request / response

std::optional<std::string> http_request::header(std::string_view name) const {
    for (const auto& [n, v] : headers)
        if (iequals(n, name)) return v;
    return std::nullopt;
}

std::string http_request::path() const { return target.substr(0, target.find('?')); }

std::optional<std::string> http_request::query(std::string_view name) const {
    const auto q = target.find('?');
    if (q == std::string::npos) return std::nullopt;
    std::string_view rest(target);
    rest.remove_prefix(q + 1);
    while (!rest.empty()) {
        const auto amp = rest.find('&');
        const auto pair = rest.substr(0, amp);
        const auto eq = pair.find('=');
        if (decode(pair.substr(0, eq)) == name)
            return eq == std::string_view::npos ? std::string() : decode(pair.substr(eq + 1));
        if (amp == std::string_view::npos) break;
        rest.remove_prefix(amp + 1);
    }
    return std::nullopt;
}

boost::json::value http_request::json() const { return boost::json::parse(body); }

http_response http_response::json(int status, const boost::json::value& body) {
    http_response r;
    r.status = status;
    r.headers.emplace_back("Content-Type", "application/json");
    r.body = boost::json::serialize(body);
    return r;
}

// ------------------------------------------------------------------------------------ server

// A connection's socket is read and written by its own thread only. The destructor wakes a
// thread blocked in a read with shutdown(2) on the descriptor, under `m`, so that it never races
// with the connection thread closing the socket.
struct connection {
    explicit connection(tcp::socket s) : socket(std::move(s)) {}
    std::mutex m;
    tcp::socket socket;
    bool closed = false;

    void close() {
        std::lock_guard l(m);
        boost::system::error_code ignored;
        socket.shutdown(tcp::socket::shutdown_both, ignored);
        socket.close(ignored);
        closed = true;
    }
    void interrupt() {
        std::lock_guard l(m);
        if (!closed) ::shutdown(socket.native_handle(), SHUT_RDWR);
    }
};

struct http_server::impl {
    asio::io_context io{1};  // owns the sockets' services; never run: all I/O is blocking
    tcp::acceptor acceptor{io};
};

http_server::http_server(handler h) : handler_(std::move(h)), impl_(std::make_unique<impl>()) {
    auto& acc = impl_->acceptor;
    const tcp::endpoint where(asio::ip::make_address("127.0.0.1"), 0);
    acc.open(where.protocol());
    acc.set_option(tcp::acceptor::reuse_address(true));
    acc.bind(where);
    acc.listen();
    port_ = acc.local_endpoint().port();
    acceptor_thread_ = std::thread([this] { accept_loop(); });
}

http_server::~http_server() {
    std::vector<std::shared_ptr<gate>> gates;
    std::list<std::shared_ptr<connection>> open_connections;
    {
        std::lock_guard l(m_);
        stopping_ = true;
        gates = waiting_gates_;
        open_connections = connections_;
    }
    // A listening socket that is shut down makes a blocked accept(2) fail at once (Linux).
    ::shutdown(impl_->acceptor.native_handle(), SHUT_RDWR);
    acceptor_thread_.join();
    for (auto& g : gates) g->open();
    for (auto& c : open_connections) c->interrupt();
    for (auto& t : threads_) t.join();  // no new thread starts once the acceptor has stopped
    boost::system::error_code ignored;
    impl_->acceptor.close(ignored);
}

std::string http_server::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::vector<http_request> http_server::requests() const {
    std::lock_guard l(m_);
    return requests_;
}

std::size_t http_server::request_count() const {
    std::lock_guard l(m_);
    return requests_.size();
}

bool http_server::wait_for_requests(std::size_t n, std::chrono::milliseconds limit) const {
    std::unique_lock l(m_);
    return arrived_.wait_for(l, limit, [&] { return requests_.size() >= n; });
}

void http_server::accept_loop() {
    for (;;) {
        tcp::socket socket(impl_->io);
        boost::system::error_code ec;
        impl_->acceptor.accept(socket, ec);
        std::lock_guard l(m_);
        if (stopping_) return;
        if (ec) continue;  // e.g. a client that reset before accept; keep serving
        auto c = std::make_shared<connection>(std::move(socket));
        connections_.push_back(c);
        threads_.emplace_back([this, c] { serve(c); });
    }
}

void http_server::serve(std::shared_ptr<connection> c) {
    beast::flat_buffer buffer;
    for (;;) {
        bhttp::request_parser<bhttp::string_body> parser;
        parser.header_limit(64 * 1024);
        parser.body_limit(64 * 1024 * 1024);
        boost::system::error_code ec;
        bhttp::read(c->socket, buffer, parser, ec);
        if (ec) break;  // end of stream, a reset, or the server stopping
        const auto& msg = parser.get();

        http_request req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        for (const auto& f : msg) req.headers.emplace_back(std::string(f.name_string()), std::string(f.value()));
        req.body = msg.body();
        {
            std::lock_guard l(m_);
            requests_.push_back(req);
        }
        arrived_.notify_all();

        http_response answer;
        try {
            answer = handler_(req);
        } catch (const std::exception& e) {
            answer = http_response{.status = 500,
                                   .headers = {},
                                   .body = std::string("handler threw: ") + e.what(),
                                   .hold = nullptr,
                                   .drop = false};
        }
        if (answer.hold) {
            bool wait = false;
            {
                std::lock_guard l(m_);
                if (!stopping_) {
                    waiting_gates_.push_back(answer.hold);
                    wait = true;
                }
            }
            if (wait) answer.hold->wait();
        }
        if (answer.drop) break;

        bhttp::response<bhttp::string_body> res;
        res.version(11);
        res.result(static_cast<unsigned>(answer.status));
        for (const auto& [name, value] : answer.headers) res.set(name, value);
        res.body() = std::move(answer.body);
        res.keep_alive(msg.keep_alive());
        res.prepare_payload();
        bhttp::write(c->socket, res, ec);
        if (ec || !res.keep_alive()) break;
    }
    c->close();
}

}  // namespace toolhost::test
