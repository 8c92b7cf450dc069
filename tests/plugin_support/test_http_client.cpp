// The plugins' HTTP client (plugins/common/http_client.cpp) against the loopback test server
// (tests/support/http_server.cpp), and the server itself: URL parsing, headers and bodies on the
// wire, the body limit, connection failures, timeouts, the call's deadline and cancellation,
// status mapping with Retry-After, keep-alive and held responses in the server.
#define BOOST_TEST_MODULE http_client
#include <boost/test/unit_test.hpp>

#include <toolhost_plugins/http_client.hpp>

#include "http_server.hpp"
#include "test_support.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <future>
#include <mutex>
#include <thread>

namespace http = toolhost::plugins::http;
namespace json = boost::json;
using toolhost::sdk::status;
using toolhost::test::gate;
using toolhost::test::http_request;
using toolhost::test::http_response;
using toolhost::test::http_server;
using namespace std::chrono_literals;

namespace {

using toolhost::test::contains;

// A call context as the host would hand it to invoke(): an ABI struct with a deadline, a
// cancellation flag and a traceparent the test controls, recording the retry-after hint.
class fake_call {
public:
    explicit fake_call(std::optional<std::chrono::milliseconds> remaining = std::nullopt, std::string traceparent = {})
        : traceparent_(std::move(traceparent)) {
        if (remaining) deadline_ = std::chrono::steady_clock::now() + *remaining;
        abi_.struct_size = sizeof abi_;
        abi_.host_data = this;
        abi_.traceparent = {traceparent_.data(), traceparent_.size()};
        abi_.attempt = 1;
        abi_.is_cancelled = [](const toolhost_call_t* c) { return self(c).cancelled_.load(); };
        abi_.remaining_ns = [](const toolhost_call_t* c) -> int64_t {
            const auto& s = self(c);
            if (!s.deadline_) return INT64_MAX;
            return std::chrono::duration_cast<std::chrono::nanoseconds>(*s.deadline_ - std::chrono::steady_clock::now())
                .count();
        };
        abi_.log = [](const toolhost_call_t*, int32_t, toolhost_str_t) {};
        abi_.report_progress = [](const toolhost_call_t*, double, double, toolhost_str_t) {};
        abi_.set_result = [](const toolhost_call_t*, toolhost_str_t) {};
        abi_.set_error = [](const toolhost_call_t*, toolhost_str_t) {};
        abi_.set_retry_after_ms = [](const toolhost_call_t* c, uint64_t ms) { self(c).retry_after_ms_ = ms; };
    }
    const toolhost::sdk::call_context& context() const { return context_; }
    void cancel() { cancelled_ = true; }
    std::optional<uint64_t> retry_after_ms() const { return retry_after_ms_; }

private:
    static fake_call& self(const toolhost_call_t* c) { return *static_cast<fake_call*>(c->host_data); }
    std::string traceparent_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    std::atomic<bool> cancelled_{false};
    std::optional<uint64_t> retry_after_ms_;
    toolhost_call_t abi_{};
    toolhost::sdk::call_context context_{&abi_};
};

// Runs `f`, which must throw sdk::error, and returns it.
template <class F>
toolhost::sdk::error error_of(F&& f) {
    try {
        f();
    } catch (const toolhost::sdk::error& e) {
        return e;
    }
    BOOST_FAIL("expected a toolhost::sdk::error");
    throw std::logic_error("unreachable");
}

http_response text(int status, std::string body) {
    return http_response{.status = status,
                         .headers = {{"Content-Type", "text/plain"}},
                         .body = std::move(body),
                         .hold = nullptr,
                         .drop = false};
}

}  // namespace

BOOST_AUTO_TEST_SUITE(urls)

BOOST_AUTO_TEST_CASE(parses_what_a_connection_needs) {
    auto u = http::parse_url("http://127.0.0.1:8080/v1/hook?x=1&y=a%20b");
    BOOST_TEST(u.scheme == "http");
    BOOST_TEST(u.host == "127.0.0.1");
    BOOST_TEST(u.port == 8080);
    BOOST_TEST(u.target == "/v1/hook?x=1&y=a%20b");
    BOOST_TEST(u.origin() == "http://127.0.0.1:8080");

    u = http::parse_url("HTTPS://Example.com");
    BOOST_TEST(u.tls());
    BOOST_TEST(u.port == 443);
    BOOST_TEST(u.target == "/");
    BOOST_TEST(u.origin() == "https://Example.com");

    u = http::parse_url("http://[::1]:9/a#frag");
    BOOST_TEST(u.host == "::1");
    BOOST_TEST(u.target == "/a");
    BOOST_TEST(u.origin() == "http://[::1]:9");
}

BOOST_AUTO_TEST_CASE(refuses_what_it_cannot_use_naming_the_field) {
    for (const char* bad : {"ftp://example.com/", "example.com/path", "", "http://user:pw@example.com/",
                            "http://example.com:0/", "http://example.com:70000/", "http:///nohost"}) {
        auto e = error_of([&] { http::parse_url(bad, "webhook.url"); });
        BOOST_TEST((e.code() == status::invalid_argument), bad);
        BOOST_TEST(contains(e.what(), "webhook.url: "), e.what());
    }
}

BOOST_AUTO_TEST_CASE(encodes_components) {
    BOOST_TEST(http::encode_component("a b/c?d&e=f%é") == "a%20b%2Fc%3Fd%26e%3Df%25%C3%A9");
    BOOST_TEST(http::encode_component("Az09-._~") == "Az09-._~");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(exchange)

BOOST_AUTO_TEST_CASE(sends_headers_and_json_and_returns_the_response) {
    http_server server([](const http_request& r) {
        auto res = http_response::json(201, {{"echo", r.json()}, {"method", r.method}});
        res.headers.emplace_back("X-Request-Count", "1");
        return res;
    });
    http::client_options o;
    o.bearer_token = "s3cret";
    http::client c(o);
    fake_call call(std::nullopt, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    auto req = http::request::json("POST", server.url() + "/v1/hook?x=1", json::object{{"name", "Ada \"Lovelace\""}});
    req.headers.emplace_back("Idempotency-Key", "k-1");
    auto res = c.send(req, &call.context());

    BOOST_TEST(res.status == 201);
    BOOST_TEST(res.ok());
    BOOST_TEST(res.header("x-request-count").value_or("") == "1");
    BOOST_TEST(res.header("content-type").value_or("") == "application/json");
    BOOST_TEST(res.json().at("echo").at("name") == "Ada \"Lovelace\"");
    BOOST_TEST(res.url == server.url() + "/v1/hook?x=1");
    BOOST_TEST(res.method == "POST");
    BOOST_REQUIRE_NO_THROW(http::raise_for_status(res));

    auto seen = server.requests();
    BOOST_TEST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(seen[0].method == "POST");
    BOOST_TEST(seen[0].target == "/v1/hook?x=1");
    BOOST_TEST(seen[0].header("Authorization").value_or("") == "Bearer s3cret");
    BOOST_TEST(seen[0].header("traceparent").value_or("") == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
    BOOST_TEST(seen[0].header("Content-Type").value_or("") == "application/json");
    BOOST_TEST(seen[0].header("Idempotency-Key").value_or("") == "k-1");
    BOOST_TEST(seen[0].header("Host").value_or("") == "127.0.0.1:" + std::to_string(server.port()));
    BOOST_TEST(seen[0].header("User-Agent").value_or("") == "toolhost-plugin/1");
    BOOST_TEST(seen[0].json() == json::parse(R"({"name":"Ada \"Lovelace\""})"));
    BOOST_TEST(seen[0].query("x").value_or("") == "1");
}

BOOST_AUTO_TEST_CASE(get_without_body_and_without_call) {
    http_server server([](const http_request& r) { return text(200, "path=" + r.path()); });
    http::client c;
    auto res = c.send({.method = "GET", .url = server.url() + "/p/q", .headers = {}, .body = {}});
    BOOST_TEST(res.body == "path=/p/q");
    auto seen = server.requests();
    BOOST_TEST_REQUIRE(seen.size() == 1u);
    BOOST_TEST(!seen[0].header("Authorization").has_value());
    BOOST_TEST(!seen[0].header("traceparent").has_value());
    BOOST_TEST(!seen[0].header("Content-Length").has_value());
    BOOST_TEST(seen[0].body.empty());
}

BOOST_AUTO_TEST_CASE(header_injection_is_refused) {
    http_server server([](const http_request&) { return text(200, ""); });
    http::client c;
    http::request req{.method = "GET", .url = server.url(), .headers = {{"X-Evil", "a\r\nInjected: yes"}}, .body = {}};
    auto e = error_of([&] { c.send(req); });
    BOOST_TEST((e.code() == status::invalid_argument));
    BOOST_TEST(server.request_count() == 0u);

    http::client_options o;
    o.bearer_token = "tok\nen";
    e = error_of([&] { http::client bad(o); });
    BOOST_TEST((e.code() == status::invalid_argument));
    BOOST_TEST(contains(e.what(), "bearer_token"));
}

BOOST_AUTO_TEST_CASE(body_limit) {
    http_server server([](const http_request&) { return text(200, std::string(4096, 'x')); });
    http::client_options o;
    o.max_body_bytes = 1024;
    http::client small(o);
    auto e = error_of([&] { small.send({.method = "GET", .url = server.url(), .headers = {}, .body = {}}); });
    BOOST_TEST((e.code() == status::resource_exhausted));
    BOOST_TEST(contains(e.what(), "1024 bytes"), e.what());

    o.max_body_bytes = 4096;
    http::client enough(o);
    BOOST_TEST(enough.send({.method = "GET", .url = server.url(), .headers = {}, .body = {}}).body.size() == 4096u);
}

BOOST_AUTO_TEST_CASE(invalid_json_body_is_internal) {
    http_server server([](const http_request&) { return text(200, "<html>not json</html>"); });
    http::client c;
    auto res = c.send({.method = "GET", .url = server.url() + "/x", .headers = {}, .body = {}});
    auto e = error_of([&] { res.json(); });
    BOOST_TEST((e.code() == status::internal));
    BOOST_TEST(contains(e.what(), "GET " + server.url() + "/x"), e.what());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(failures)

BOOST_AUTO_TEST_CASE(connection_refused_is_unavailable) {
    // A socket that is bound but not listening: connecting to its port is refused, and nobody
    // else can take the port while we hold it.
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket holder(io);
    holder.open(boost::asio::ip::tcp::v4());
    holder.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    const auto port = holder.local_endpoint().port();

    http::client c;
    auto e = error_of([&] {
        c.send({.method = "GET", .url = "http://127.0.0.1:" + std::to_string(port) + "/", .headers = {}, .body = {}});
    });
    BOOST_TEST((e.code() == status::unavailable));
    BOOST_TEST(contains(e.what(), "cannot connect to http://127.0.0.1:" + std::to_string(port)), e.what());
}

BOOST_AUTO_TEST_CASE(server_closing_without_answer_is_unavailable) {
    http_server server([](const http_request&) {
        http_response r;
        r.drop = true;
        return r;
    });
    http::client c;
    auto e = error_of([&] { c.send({.method = "GET", .url = server.url(), .headers = {}, .body = {}}); });
    BOOST_TEST((e.code() == status::unavailable));
    BOOST_TEST(contains(e.what(), "reading the response"), e.what());
}

BOOST_AUTO_TEST_CASE(request_timeout_is_unavailable) {
    auto never = std::make_shared<gate>();
    http_server server([never](const http_request&) {
        auto r = text(200, "late");
        r.hold = never;
        return r;
    });
    http::client_options o;
    o.request_timeout = 150ms;
    http::client c(o);
    auto e = error_of([&] { c.send({.method = "GET", .url = server.url(), .headers = {}, .body = {}}); });
    BOOST_TEST((e.code() == status::unavailable));
    BOOST_TEST(contains(e.what(), "timed out after 150 ms (request_timeout)"), e.what());
    BOOST_TEST(server.request_count() == 1u);
    BOOST_TEST(!never->is_open());  // the server destructor releases it
}

BOOST_AUTO_TEST_CASE(the_call_deadline_bounds_the_request) {
    auto never = std::make_shared<gate>();
    http_server server([never](const http_request&) {
        auto r = text(200, "late");
        r.hold = never;
        return r;
    });
    http::client c;  // 30 s request timeout
    fake_call call(100ms);
    auto e =
        error_of([&] { c.send({.method = "GET", .url = server.url(), .headers = {}, .body = {}}, &call.context()); });
    BOOST_TEST((e.code() == status::unavailable));
    BOOST_TEST(contains(e.what(), "timed out at the call's deadline"), e.what());
}

BOOST_AUTO_TEST_CASE(cancelling_the_call_aborts_the_request) {
    auto held = std::make_shared<gate>();
    http_server server([held](const http_request&) {
        auto r = text(200, "late");
        r.hold = held;
        return r;
    });
    http::client c;
    fake_call call;
    auto sent = std::async(std::launch::async, [&] {
        return error_of(
            [&] { c.send({.method = "GET", .url = server.url(), .headers = {}, .body = {}}, &call.context()); });
    });
    BOOST_TEST_REQUIRE(server.wait_for_requests(1));  // the request is in the server: now cancel
    call.cancel();
    auto e = sent.get();
    BOOST_TEST((e.code() == status::cancelled));
    held->open();

    auto before =
        error_of([&] { c.send({.method = "GET", .url = server.url(), .headers = {}, .body = {}}, &call.context()); });
    BOOST_TEST((before.code() == status::cancelled));
    BOOST_TEST(server.request_count() == 1u);  // a call cancelled before sending sends nothing
}

BOOST_AUTO_TEST_CASE(https_to_a_plain_http_server_fails_in_the_handshake) {
    http_server server([](const http_request&) { return text(200, "plain"); });
    http::client_options o;
    o.connect_timeout = 5s;
    http::client c(o);
    auto e = error_of([&] {
        c.send({.method = "GET",
                .url = "https://127.0.0.1:" + std::to_string(server.port()) + "/",
                .headers = {},
                .body = {}});
    });
    BOOST_TEST((e.code() == status::unavailable));
    BOOST_TEST(contains(e.what(), "TLS handshake"), e.what());
}

BOOST_AUTO_TEST_CASE(a_missing_ca_file_is_a_configuration_error) {
    http::client_options o;
    o.ca_file = "/nonexistent/ca.pem";
    auto e = error_of([&] { http::client c(o); });
    BOOST_TEST((e.code() == status::invalid_argument));
    BOOST_TEST(contains(e.what(), "ca_file"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(statuses)

BOOST_AUTO_TEST_CASE(map_to_fitting_codes) {
    BOOST_TEST((http::status_for(200) == status::ok));
    BOOST_TEST((http::status_for(204) == status::ok));
    BOOST_TEST((http::status_for(400) == status::invalid_argument));
    BOOST_TEST((http::status_for(422) == status::invalid_argument));
    BOOST_TEST((http::status_for(401) == status::unauthenticated));
    BOOST_TEST((http::status_for(403) == status::permission_denied));
    BOOST_TEST((http::status_for(404) == status::not_found));
    BOOST_TEST((http::status_for(409) == status::already_exists));
    BOOST_TEST((http::status_for(412) == status::failed_precondition));
    BOOST_TEST((http::status_for(418) == status::failed_precondition));
    BOOST_TEST((http::status_for(429) == status::unavailable));
    BOOST_TEST((http::status_for(500) == status::unavailable));
    BOOST_TEST((http::status_for(501) == status::unimplemented));
    BOOST_TEST((http::status_for(503) == status::unavailable));
    BOOST_TEST((http::status_for(302) == status::failed_precondition));
}

BOOST_AUTO_TEST_CASE(retry_after_values) {
    using std::chrono::milliseconds;
    BOOST_TEST(http::parse_retry_after("3").value() == milliseconds(3000));
    BOOST_TEST(http::parse_retry_after(" 0 ").value() == milliseconds(0));
    BOOST_TEST(http::parse_retry_after("99999999999999999999").value() == milliseconds(24 * 3600 * 1000));
    const auto now = std::chrono::system_clock::from_time_t(784111777);  // Sun, 06 Nov 1994 08:49:37 GMT
    BOOST_TEST(http::parse_retry_after("Sun, 06 Nov 1994 08:49:47 GMT", now).value() == milliseconds(10000));
    BOOST_TEST(http::parse_retry_after("Sun, 06 Nov 1994 08:49:00 GMT", now).value() == milliseconds(0));
    BOOST_TEST(!http::parse_retry_after("", now).has_value());
    BOOST_TEST(!http::parse_retry_after("soon", now).has_value());
    BOOST_TEST(!http::parse_retry_after("-5", now).has_value());
    BOOST_TEST(!http::parse_retry_after("Sun, 06 Foo 1994 08:49:47 GMT", now).has_value());
}

BOOST_AUTO_TEST_CASE(raise_for_status_names_the_request_and_passes_retry_after) {
    http_server server([](const http_request& r) {
        const auto code = std::stoi(r.path().substr(1));
        if (code == 503) {
            auto res = http_response::json(503, {{"error", {{"message", "maintenance"}}}});
            res.headers.emplace_back("Retry-After", "2");
            return res;
        }
        if (code == 302) {
            http_response res{.status = 302,
                              .headers = {{"Location", "http://elsewhere/"}},
                              .body = {},
                              .hold = nullptr,
                              .drop = false};
            return res;
        }
        if (code == 422) return http_response::json(422, {{"message", "email: not an address"}});
        return text(code, "plain reason\nsecond line");
    });
    http::client c;
    auto fail = [&](int code, fake_call& call) {
        auto res =
            c.send({.method = "PUT", .url = server.url() + "/" + std::to_string(code), .headers = {}, .body = "x"},
                   &call.context());
        BOOST_TEST(res.status == code);
        return error_of([&] { http::raise_for_status(res, &call.context()); });
    };
    fake_call call;
    auto e = fail(503, call);
    BOOST_TEST((e.code() == status::unavailable));
    BOOST_TEST(std::string(e.what()) == "PUT " + server.url() + "/503: HTTP 503 Service Unavailable: maintenance");
    BOOST_TEST(call.retry_after_ms().value_or(0) == 2000u);

    fake_call call2;
    e = fail(422, call2);
    BOOST_TEST((e.code() == status::invalid_argument));
    BOOST_TEST(contains(e.what(), "email: not an address"));
    BOOST_TEST(!call2.retry_after_ms().has_value());

    e = fail(404, call2);
    BOOST_TEST((e.code() == status::not_found));
    BOOST_TEST(contains(e.what(), "HTTP 404 Not Found: plain reason second line"), e.what());

    e = fail(302, call2);
    BOOST_TEST((e.code() == status::failed_precondition));
    BOOST_TEST(contains(e.what(), "set the URL to http://elsewhere/"), e.what());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(server)

BOOST_AUTO_TEST_CASE(keeps_connections_alive_and_records_in_order) {
    http_server server([](const http_request& r) { return text(200, r.body); });
    namespace bhttp = boost::beast::http;
    boost::asio::io_context io;
    boost::asio::ip::tcp::socket s(io);
    s.connect({boost::asio::ip::make_address("127.0.0.1"), server.port()});
    boost::beast::flat_buffer buffer;
    for (std::string body : {"one", "two"}) {
        bhttp::request<bhttp::string_body> req(bhttp::verb::post, "/k", 11);
        req.set(bhttp::field::host, "127.0.0.1");
        req.body() = body;
        req.prepare_payload();
        bhttp::write(s, req);
        bhttp::response<bhttp::string_body> res;
        bhttp::read(s, buffer, res);
        BOOST_TEST(res.body() == body);
        BOOST_TEST(res.keep_alive());
    }
    auto seen = server.requests();
    BOOST_TEST_REQUIRE(seen.size() == 2u);
    BOOST_TEST(seen[0].body == "one");
    BOOST_TEST(seen[1].body == "two");
}

BOOST_AUTO_TEST_CASE(a_held_response_does_not_block_other_requests) {
    auto held = std::make_shared<gate>();
    http_server server([held](const http_request& r) {
        auto res = text(200, r.path());
        if (r.path() == "/slow") res.hold = held;
        return res;
    });
    http::client c;
    auto slow = std::async(std::launch::async, [&] {
        return c.send({.method = "GET", .url = server.url() + "/slow", .headers = {}, .body = {}});
    });
    BOOST_TEST_REQUIRE(server.wait_for_requests(1));
    BOOST_TEST(c.send({.method = "GET", .url = server.url() + "/fast", .headers = {}, .body = {}}).body == "/fast");
    held->open();
    BOOST_TEST(slow.get().body == "/slow");
}

BOOST_AUTO_TEST_CASE(a_throwing_handler_answers_500) {
    http_server server([](const http_request&) -> http_response { throw std::runtime_error("oops"); });
    http::client c;
    auto res = c.send({.method = "GET", .url = server.url(), .headers = {}, .body = {}});
    BOOST_TEST(res.status == 500);
    BOOST_TEST(contains(res.body, "oops"));
}

BOOST_AUTO_TEST_CASE(many_concurrent_clients) {
    std::atomic<int> handled{0};
    http_server server([&](const http_request& r) {
        ++handled;
        return text(200, r.query("i").value_or("?"));
    });
    http::client c;  // one client shared by every thread
    std::vector<std::future<std::string>> results;
    for (int i = 0; i < 16; ++i)
        results.push_back(std::async(std::launch::async, [&c, &server, i] {
            return c
                .send({.method = "GET", .url = server.url() + "/?i=" + std::to_string(i), .headers = {}, .body = {}})
                .body;
        }));
    for (int i = 0; i < 16; ++i) BOOST_TEST(results[static_cast<size_t>(i)].get() == std::to_string(i));
    BOOST_TEST(handled.load() == 16);
    BOOST_TEST(server.request_count() == 16u);
}

BOOST_AUTO_TEST_SUITE_END()
