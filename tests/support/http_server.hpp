#pragma once
// A real HTTP/1.1 server on 127.0.0.1 for tests (Boost.Beast; this header pulls in neither Beast
// nor Asio). It listens on an ephemeral port, answers every request with a handler the test
// provides, and records every request it received.
//
//     toolhost::test::http_server server([](const toolhost::test::http_request& r) {
//         if (r.target == "/hook") return toolhost::test::http_response::json(200, {{"ok", true}});
//         return toolhost::test::http_response{.status = 404};
//     });
//     call_something(server.url() + "/hook");
//     BOOST_TEST(server.requests().at(0).header("authorization") == "Bearer s3cret");
//
// Threads: one thread accepts connections, and every connection is served on a thread of its
// own (keep-alive is honoured), so a response held back by a gate never blocks other requests.
// The handler therefore runs on several threads at once and must be thread-safe.
//
// Delays without sleeps: a response may name a `gate`; the server reads the request, records it,
// and waits until the test opens the gate before it answers. A client timeout is tested by never
// opening it: the destructor opens every gate it waits on, so a test never hangs in the end.

#include <boost/json/value.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace toolhost::test {

/// A latch the test opens to let held responses go. Thread-safe; opening twice is harmless.
class gate {
public:
    void open();
    bool is_open() const;
    /// Blocks until open() was called.
    void wait() const;

private:
    mutable std::mutex m_;
    mutable std::condition_variable cv_;
    bool open_ = false;
};

using http_headers = std::vector<std::pair<std::string, std::string>>;

struct http_request {
    std::string method;
    std::string target;  ///< path and query, as sent
    http_headers headers;
    std::string body;

    /// The first header with this name (case-insensitive), or nullopt.
    std::optional<std::string> header(std::string_view name) const;
    /// The path without the query.
    std::string path() const;
    /// A query parameter, percent-decoded, or nullopt.
    std::optional<std::string> query(std::string_view name) const;
    /// The body parsed as JSON (throws std::exception when it is not).
    boost::json::value json() const;
};

struct http_response {
    int status = 200;
    http_headers headers;
    std::string body;
    /// When set, the server waits until it is open before answering.
    std::shared_ptr<gate> hold;
    /// Close the connection without answering (a server that dies mid-request).
    bool drop = false;

    /// A JSON response: the serialized value with Content-Type: application/json.
    static http_response json(int status, const boost::json::value& body);
};

class http_server {
public:
    using handler = std::function<http_response(const http_request&)>;

    /// Starts listening on 127.0.0.1 with an ephemeral port. Throws when it cannot.
    explicit http_server(handler h);
    /// Stops accepting, opens the gates it waits on, closes every connection and joins its threads.
    ~http_server();
    http_server(const http_server&) = delete;
    http_server& operator=(const http_server&) = delete;

    uint16_t port() const noexcept { return port_; }
    /// "http://127.0.0.1:<port>"
    std::string url() const;

    /// Every request received so far, in arrival order (a copy). Thread-safe.
    std::vector<http_request> requests() const;
    std::size_t request_count() const;
    /// Waits until at least `n` requests have arrived; false if that did not happen within
    /// `limit` (a guard against a hanging test, not a timing assertion).
    bool wait_for_requests(std::size_t n, std::chrono::milliseconds limit = std::chrono::seconds(30)) const;

private:
    struct impl;
    void accept_loop();
    void serve(std::shared_ptr<struct connection> c);

    handler handler_;
    std::unique_ptr<impl> impl_;
    uint16_t port_ = 0;

    mutable std::mutex m_;
    mutable std::condition_variable arrived_;
    std::vector<http_request> requests_;
    std::list<std::shared_ptr<struct connection>> connections_;
    std::vector<std::shared_ptr<gate>> waiting_gates_;
    std::vector<std::thread> threads_;
    bool stopping_ = false;
    std::thread acceptor_thread_;
};

}  // namespace toolhost::test
