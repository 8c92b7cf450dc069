#define BOOST_TEST_MODULE tracing
#include <boost/test/unit_test.hpp>

#include "http_server.hpp"
#include "test_support.hpp"

#include <toolhost/config.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/metrics.hpp>
#include <toolhost/retry_policy.hpp>
#include <toolhost/tracing.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
namespace json = boost::json;
using toolhost::metrics_registry;
using toolhost::otlp_http_exporter;
using toolhost::otlp_options;
using toolhost::span_data;
using toolhost::trace_context;
using toolhost::test::http_request;
using toolhost::test::http_response;
using toolhost::test::http_server;

namespace {

/// A guard against a hanging test, never a timing assertion.
constexpr auto patience = 30s;

// ---------------------------------------------------------------------------------- helpers

std::string hex_of(const uint8_t* bytes, std::size_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        s += digits[bytes[i] >> 4];
        s += digits[bytes[i] & 0xf];
    }
    return s;
}

/// A span numbered `i` (its "i" attribute and the low bytes of its span id).
span_data numbered_span(int64_t i) {
    span_data s;
    s.trace_id = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    s.span_id = {0, 0, 0, 0, 0, 0, static_cast<uint8_t>((i + 1) >> 8), static_cast<uint8_t>(i + 1)};
    s.name = "tool.echo.say";
    s.start = std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000));
    s.end = s.start + 5ms;
    s.attributes = {{"i", int64_t{i}}};
    return s;
}

/// The spans of one OTLP/JSON body.
const json::array& spans_of(const json::value& body) {
    return body.at("resourceSpans").at(0).at("scopeSpans").at(0).at("spans").as_array();
}

/// The "i" attribute of every span the server received, in arrival order.
std::vector<int64_t> numbers_received(const http_server& server) {
    std::vector<int64_t> out;
    for (const auto& r : server.requests()) {
        const json::value body = r.json();
        for (const auto& span : spans_of(body)) {
            const auto& attribute = span.at("attributes").at(0);
            BOOST_TEST_REQUIRE(attribute.at("key") == "i");
            out.push_back(std::stoll(std::string(attribute.at("value").at("intValue").as_string())));
        }
    }
    return out;
}

std::vector<std::size_t> batch_sizes(const http_server& server) {
    std::vector<std::size_t> out;
    for (const auto& r : server.requests()) {
        const json::value body = r.json();
        out.push_back(spans_of(body).size());
    }
    return out;
}

std::vector<int64_t> range(int64_t from, int64_t to) {
    std::vector<int64_t> v;
    for (int64_t i = from; i < to; ++i) v.push_back(i);
    return v;
}

/// The exporter's counters, read from the registry it was given.
struct exporter_metrics {
    explicit exporter_metrics(metrics_registry& m) : m_(m) {}
    uint64_t exported() { return m_.counters("toolhost_trace_spans_exported_total", "").with({}).value(); }
    uint64_t dropped(std::string_view reason) {
        return m_.counters("toolhost_trace_spans_dropped_total", "", {"reason"}).with({reason}).value();
    }
    uint64_t requests(std::string_view result) {
        return m_.counters("toolhost_trace_export_requests_total", "", {"result"}).with({result}).value();
    }

private:
    metrics_registry& m_;
};

std::unique_ptr<otlp_http_exporter> make_exporter(otlp_options o, metrics_registry& metrics) {
    std::string error;
    auto e = otlp_http_exporter::create(std::move(o), metrics, &error);
    BOOST_TEST_REQUIRE(e != nullptr, error);
    return e;
}

/// Options that only send on a full batch or flush(): the interval never passes during a test.
otlp_options quiet_options(std::string endpoint) {
    otlp_options o;
    o.endpoint = std::move(endpoint);
    o.flush_interval = 1h;
    o.request_timeout = patience;
    return o;
}

/// A port on 127.0.0.1 that refuses connections: bound (so nobody else gets it) but not listening.
class refusing_port {
public:
    refusing_port() : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
        BOOST_TEST_REQUIRE(fd_ >= 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        BOOST_TEST_REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
        socklen_t len = sizeof a;
        BOOST_TEST_REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0);
        port_ = ntohs(a.sin_port);
    }
    ~refusing_port() { ::close(fd_); }
    std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }

private:
    int fd_;
    uint16_t port_ = 0;
};

}  // namespace

// ------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(traceparent)

BOOST_AUTO_TEST_CASE(spec_examples_parse_and_round_trip) {
    auto sampled = trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    BOOST_TEST_REQUIRE(sampled.has_value());
    BOOST_TEST(sampled->trace_id_hex() == "4bf92f3577b34da6a3ce929d0e0e4736");
    BOOST_TEST(sampled->span_id_hex() == "00f067aa0ba902b7");
    BOOST_TEST(sampled->trace_id[0] == 0x4b);
    BOOST_TEST(sampled->span_id[7] == 0xb7);
    BOOST_TEST(sampled->sampled());
    BOOST_TEST(sampled->to_traceparent() == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

    auto not_sampled = trace_context::parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
    BOOST_TEST_REQUIRE(not_sampled.has_value());
    BOOST_TEST(!not_sampled->sampled());
    BOOST_TEST(not_sampled->to_traceparent() == "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

BOOST_AUTO_TEST_CASE(flags_are_a_bit_field_and_reserved_bits_are_not_passed_on) {
    // 09 = sampled + an unknown flag: sampled, and the unknown bit is sent on as 0.
    auto a = trace_context::parse("00-12345678901234567890123456789012-1234567890123456-09");
    BOOST_TEST_REQUIRE(a.has_value());
    BOOST_TEST(a->sampled());
    BOOST_TEST(a->to_traceparent() == "00-12345678901234567890123456789012-1234567890123456-01");
    // 02: not sampled, whatever the other bits.
    auto b = trace_context::parse("00-12345678901234567890123456789012-1234567890123456-fe");
    BOOST_TEST_REQUIRE(b.has_value());
    BOOST_TEST(!b->sampled());
    BOOST_TEST(b->to_traceparent() == "00-12345678901234567890123456789012-1234567890123456-00");
    // A context built by hand with reserved bits set still sends only the sampled bit.
    trace_context c = *b;
    c.flags = 0xff;
    BOOST_TEST(c.to_traceparent() == "00-12345678901234567890123456789012-1234567890123456-01");
}

BOOST_AUTO_TEST_CASE(future_versions_are_read_by_their_first_fields) {
    const std::string ids = "12345678901234567890123456789012-1234567890123456-01";
    for (std::string valid :
         {"cc-" + ids, "cc-" + ids + "-what-the-future-will-be-like", "01-" + ids, "fe-" + ids + "-"}) {
        auto c = trace_context::parse(valid);
        BOOST_TEST_REQUIRE(c.has_value(), valid);
        BOOST_TEST(c->trace_id_hex() == "12345678901234567890123456789012");
        BOOST_TEST(c->span_id_hex() == "1234567890123456");
        BOOST_TEST(c->sampled());
        // Sent on in the highest version this implementation knows.
        BOOST_TEST(c->to_traceparent() == "00-" + ids);
    }
    for (std::string invalid : {"cc-" + ids + ".what-the-future-will-be-like", "cc-" + ids + "x",
                                std::string("cc-12345678901234567890123456789012-1234567890123456-0")}) {
        BOOST_TEST(!trace_context::parse(invalid).has_value(), invalid);
    }
}

BOOST_AUTO_TEST_CASE(optional_whitespace_around_the_value_is_ignored) {
    const std::string v = "00-12345678901234567890123456789012-1234567890123456-01";
    for (std::string padded : {" " + v, "\t" + v, v + " ", v + "\t", "\t " + v + " \t"}) {
        auto c = trace_context::parse(padded);
        BOOST_TEST_REQUIRE(c.has_value(), '"' << padded << '"');
        BOOST_TEST(c->to_traceparent() == v);
    }
}

BOOST_AUTO_TEST_CASE(invalid_values_are_ignored) {
    // The W3C test suite's invalid cases (test/test.py), plus upper case in every field.
    const std::vector<std::string> invalid = {
        "",
        "00",
        "00-12345678901234567890123456789012-1234567890123456-01.",                              // trailing character
        "00-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like",  // 00 has no more fields
        "ff-12345678901234567890123456789012-1234567890123456-01",                               // version ff
        "ff-12345678901234567890123456789012-1234567890123456-01-future",
        ".0-12345678901234567890123456789012-1234567890123456-01",  // version characters
        "0.-12345678901234567890123456789012-1234567890123456-01",
        "0A-12345678901234567890123456789012-1234567890123456-01",
        "000-12345678901234567890123456789012-1234567890123456-01",  // version too long
        "0000-12345678901234567890123456789012-1234567890123456-01",
        "0-12345678901234567890123456789012-1234567890123456-01",   // version too short
        "00-00000000000000000000000000000000-1234567890123456-01",  // all-zero trace id
        "00-.2345678901234567890123456789012-1234567890123456-01",  // trace id characters
        "00-1234567890123456789012345678901.-1234567890123456-01",
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",   // upper case
        "00-123456789012345678901234567890123-1234567890123456-01",  // trace id too long
        "00-1234567890123456789012345678901-1234567890123456-01",    // trace id too short
        "00-12345678901234567890123456789012-0000000000000000-01",   // all-zero parent id
        "00-12345678901234567890123456789012-.234567890123456-01",   // parent id characters
        "00-12345678901234567890123456789012-123456789012345.-01",
        "00-12345678901234567890123456789012-00F067AA0BA902B7-01",   // upper case
        "00-12345678901234567890123456789012-12345678901234567-01",  // parent id too long
        "00-12345678901234567890123456789012-123456789012345-01",    // parent id too short
        "00-12345678901234567890123456789012-1234567890123456-.0",   // flags characters
        "00-12345678901234567890123456789012-1234567890123456-0.",
        "00-12345678901234567890123456789012-1234567890123456-0A",   // upper case
        "00-12345678901234567890123456789012-1234567890123456-001",  // flags too long
        "00-12345678901234567890123456789012-1234567890123456-1",    // flags too short
        "00_12345678901234567890123456789012-1234567890123456-01",   // separators
        "00-12345678901234567890123456789012_1234567890123456-01",
        "00-12345678901234567890123456789012-1234567890123456_01",
        "00-12345678901234567890123456789012-1234567890123456-01\n",  // not whitespace OWS
        std::string("00-12345678901234567890123456789012-1234567890123456-0\0", 55),
    };
    for (const auto& v : invalid) BOOST_TEST(!trace_context::parse(v).has_value(), '"' << v << '"');
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(random_ids)

BOOST_AUTO_TEST_CASE(ids_take_48_bits_per_draw_most_significant_first) {
    toolhost::sequence_random half({0.5});  // 0.5 = bit 52 of 53
    trace_context c;
    toolhost::random_id(half, c.trace_id.data(), c.trace_id.size());
    toolhost::random_id(half, c.span_id.data(), c.span_id.size());
    BOOST_TEST(c.trace_id_hex() == "80000000000080000000000080000000");
    BOOST_TEST(c.span_id_hex() == "8000000000008000");
    BOOST_TEST(half.draws() == 5u);  // 3 for 16 bytes, 2 for 8

    toolhost::sequence_random top({1.0 - 0x1.0p-53});
    std::array<uint8_t, 8> id{};
    toolhost::random_id(top, id.data(), id.size());
    BOOST_TEST(hex_of(id.data(), id.size()) == "ffffffffffffffff");
}

BOOST_AUTO_TEST_CASE(an_all_zero_id_is_never_produced) {
    // A draw of zeros is drawn again...
    toolhost::sequence_random zeros_then_quarter({0.0, 0.0, 0.0, 0.25, 0.0, 0.0});
    std::array<uint8_t, 16> id{};
    toolhost::random_id(zeros_then_quarter, id.data(), id.size());
    BOOST_TEST(hex_of(id.data(), id.size()) == "40000000000000000000000000000000");
    BOOST_TEST(zeros_then_quarter.draws() == 6u);

    // ...and a source stuck at zero (or out of range) still gives a valid id, without looping.
    for (double stuck : {0.0, -1.0, std::numeric_limits<double>::quiet_NaN()}) {
        toolhost::sequence_random source({stuck});
        std::array<uint8_t, 8> span{};
        toolhost::random_id(source, span.data(), span.size());
        BOOST_TEST(hex_of(span.data(), span.size()) == "0000000000000001");
        BOOST_TEST(source.draws() > 0u);
        BOOST_TEST(source.draws() < 100u);
    }
}

BOOST_AUTO_TEST_CASE(default_random_ids_are_distinct_and_use_every_bit) {
    constexpr int n = 4000;
    std::set<std::string> seen;
    std::array<int, 128> ones{};
    for (int i = 0; i < n; ++i) {
        trace_context c;
        toolhost::random_id(toolhost::default_random(), c.trace_id.data(), c.trace_id.size());
        toolhost::random_id(toolhost::default_random(), c.span_id.data(), c.span_id.size());
        c.flags = 1;
        BOOST_TEST_REQUIRE(seen.insert(c.trace_id_hex()).second);
        // What the host sends on parses back to the same ids (never all zero, lower-case hex).
        auto back = trace_context::parse(c.to_traceparent());
        BOOST_TEST_REQUIRE(back.has_value(), c.to_traceparent());
        BOOST_TEST_REQUIRE(back->trace_id == c.trace_id);
        BOOST_TEST_REQUIRE(back->span_id == c.span_id);
        for (int bit = 0; bit < 128; ++bit) ones[bit] += (c.trace_id[bit / 8] >> (bit % 8)) & 1;
    }
    // Each bit is set in about half the ids; 40%..60% is more than 12 standard deviations wide.
    for (int bit = 0; bit < 128; ++bit) {
        BOOST_TEST(ones[bit] > n * 4 / 10, "bit " << bit << " set " << ones[bit] << " times");
        BOOST_TEST(ones[bit] < n * 6 / 10, "bit " << bit << " set " << ones[bit] << " times");
    }
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(otlp_json)

BOOST_AUTO_TEST_CASE(body_has_the_otlp_json_shape) {
    using std::chrono::system_clock;
    const auto t0 = system_clock::time_point(std::chrono::nanoseconds(1'700'000'000'123'456'789));

    span_data failed;
    failed.trace_id = {0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36};
    failed.span_id = {0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7};
    failed.parent_span_id = std::array<uint8_t, 8>{0xb7, 0xad, 0x6b, 0x71, 0x69, 0x20, 0x33, 0x31};
    failed.name = "tool.kb.search";
    failed.start = t0;
    failed.end = t0 + 1500us;
    failed.attributes = {
        {"tool", std::string("kb")},
        {"retryable", true},
        {"attempts", int64_t{3}},
        {"big", int64_t{9'007'199'254'740'993}},  // 2^53 + 1: only exact as a string
        {"negative", int64_t{-42}},
        {"ratio", 0.25},
        {"not_a_number", std::numeric_limits<double>::quiet_NaN()},
        {"infinite", -std::numeric_limits<double>::infinity()},
        {"bad \xff key", std::string("bad \xc3\x28 value")},  // invalid UTF-8
    };
    failed.events = {
        {"attempt", t0 + 100us, {{"attempt", int64_t{1}}, {"status", std::string("UNAVAILABLE")}}},
        {"retry", t0 + 200us, {}},
    };
    failed.error = true;
    failed.status_message = "backend said \"no\"\nand hung up";

    span_data ok = numbered_span(7);
    ok.start = system_clock::time_point(-1s);  // before 1970: clamped to 0

    const std::string text = otlp_http_exporter::to_otlp_json({failed, ok}, "toolhost-test");
    const json::value body = json::parse(text);  // valid JSON and valid UTF-8, or this throws

    // resourceSpans[0].resource.attributes = [service.name]; one scope, "toolhost" with a version.
    BOOST_TEST(body.as_object().size() == 1u);
    const auto& resource_spans = body.at("resourceSpans").as_array();
    BOOST_TEST_REQUIRE(resource_spans.size() == 1u);
    const auto& resource = resource_spans[0].at("resource");
    BOOST_TEST(resource.at("attributes") ==
               json::parse(R"([{"key":"service.name","value":{"stringValue":"toolhost-test"}}])"));
    const auto& scope_spans = resource_spans[0].at("scopeSpans").as_array();
    BOOST_TEST_REQUIRE(scope_spans.size() == 1u);
    BOOST_TEST(scope_spans[0].at("scope").at("name") == "toolhost");
    BOOST_TEST(!scope_spans[0].at("scope").at("version").as_string().empty());
    const auto& spans = scope_spans[0].at("spans").as_array();
    BOOST_TEST_REQUIRE(spans.size() == 2u);

    const auto& s = spans[0].as_object();
    std::set<std::string> keys;
    for (const auto& kv : s) keys.insert(std::string(kv.key()));
    BOOST_TEST((keys == std::set<std::string>{"traceId", "spanId", "parentSpanId", "name", "kind", "startTimeUnixNano",
                                              "endTimeUnixNano", "attributes", "events", "status"}));
    BOOST_TEST(s.at("traceId") == "4bf92f3577b34da6a3ce929d0e0e4736");  // hex, not base64
    BOOST_TEST(s.at("spanId") == "00f067aa0ba902b7");
    BOOST_TEST(s.at("parentSpanId") == "b7ad6b7169203331");
    BOOST_TEST(s.at("name") == "tool.kb.search");
    BOOST_TEST(s.at("kind") == 1);  // SPAN_KIND_INTERNAL, as an integer
    BOOST_TEST(s.at("startTimeUnixNano") == "1700000000123456789");
    BOOST_TEST(s.at("endTimeUnixNano") == "1700000000124956789");
    BOOST_TEST(s.at("attributes") == json::parse(R"([
        {"key": "tool", "value": {"stringValue": "kb"}},
        {"key": "retryable", "value": {"boolValue": true}},
        {"key": "attempts", "value": {"intValue": "3"}},
        {"key": "big", "value": {"intValue": "9007199254740993"}},
        {"key": "negative", "value": {"intValue": "-42"}},
        {"key": "ratio", "value": {"doubleValue": 0.25}},
        {"key": "not_a_number", "value": {"doubleValue": "NaN"}},
        {"key": "infinite", "value": {"doubleValue": "-Infinity"}},
        {"key": "bad \ufffd key", "value": {"stringValue": "bad \ufffd( value"}}
    ])"),
               s.at("attributes"));
    BOOST_TEST(s.at("events") == json::parse(R"([
        {"timeUnixNano": "1700000000123556789", "name": "attempt",
         "attributes": [{"key": "attempt", "value": {"intValue": "1"}},
                        {"key": "status", "value": {"stringValue": "UNAVAILABLE"}}]},
        {"timeUnixNano": "1700000000123656789", "name": "retry", "attributes": []}
    ])"),
               s.at("events"));
    BOOST_TEST(s.at("status") == json::parse(R"({"code": 2, "message": "backend said \"no\"\nand hung up"})"));

    // No parent: no parentSpanId; OK status without a message.
    const auto& o = spans[1].as_object();
    BOOST_TEST(!o.contains("parentSpanId"));
    BOOST_TEST(o.at("spanId") == "0000000000000008");
    BOOST_TEST(o.at("startTimeUnixNano") == "0");
    BOOST_TEST(o.at("status") == json::parse(R"({"code": 1})"));
    BOOST_TEST(o.at("events") == json::value(json::array{}));
}

BOOST_AUTO_TEST_CASE(endpoints_and_headers_are_checked) {
    for (const char* good : {"http://127.0.0.1:4318/v1/traces", "http://[::1]:4318/v1/traces", "http://collector",
                             "HTTP://otel-collector.monitoring.svc:4318/v1/traces?tenant=a", "http://h:65535/"}) {
        BOOST_TEST(toolhost::check_otlp_endpoint(good) == "", good);
    }
    for (const char* bad :
         {"", "127.0.0.1:4318", "https://collector/v1/traces", "ftp://h/", "http://", "http:///v1/traces",
          "http://h:0/", "http://h:65536/", "http://h:/", "http://h:x/", "http://user:pw@h/", "http://h/v1/traces#top",
          "http://h/v1 traces", "http://[::1/", "http://[zz]:1/", "http://h_o$t/"}) {
        BOOST_TEST(toolhost::check_otlp_endpoint(bad) != "", bad);
    }
    BOOST_TEST(toolhost::check_http_header("x-api-key", "s3cret") == "");
    BOOST_TEST(toolhost::check_http_header("Authorization", "Bearer a\tb") == "");
    BOOST_TEST(toolhost::check_http_header("bad name", "v") != "");
    BOOST_TEST(toolhost::check_http_header("", "v") != "");
    BOOST_TEST(toolhost::check_http_header("Content-Type", "text/plain") != "");
    BOOST_TEST(toolhost::check_http_header("content-length", "1") != "");
    BOOST_TEST(toolhost::check_http_header("x-injected", "a\r\nHost: evil") != "");
}

BOOST_AUTO_TEST_CASE(create_refuses_options_it_cannot_work_with) {
    metrics_registry metrics;
    auto refused = [&](otlp_options o) {
        std::string error;
        auto e = otlp_http_exporter::create(std::move(o), metrics, &error);
        BOOST_TEST(!error.empty());
        return e == nullptr;
    };
    otlp_options base = quiet_options("http://127.0.0.1:4318/v1/traces");
    {
        auto o = base;
        o.endpoint = "https://127.0.0.1:4318/v1/traces";
        BOOST_TEST(refused(o));
    }
    {
        auto o = base;
        o.headers = {{"Content-Type", "text/plain"}};
        BOOST_TEST(refused(o));
    }
    {
        auto o = base;
        o.max_queue = 0;
        BOOST_TEST(refused(o));
    }
    {
        auto o = base;
        o.max_queue = otlp_options::queue_limit + 1;
        BOOST_TEST(refused(o));
    }
    {
        auto o = base;
        o.max_batch = 0;
        BOOST_TEST(refused(o));
    }
    {
        auto o = base;
        o.request_timeout = 0ms;
        BOOST_TEST(refused(o));
    }
    {
        auto o = base;
        o.flush_interval = 0ms;
        BOOST_TEST(refused(o));
    }
    BOOST_TEST(otlp_http_exporter::create(base, metrics, nullptr) != nullptr);  // no collector needed to start
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(exporter)

BOOST_AUTO_TEST_CASE(full_batches_go_out_at_once_and_flush_sends_the_rest) {
    http_server server([](const http_request&) { return http_response::json(200, json::object{}); });
    metrics_registry metrics;
    exporter_metrics m(metrics);
    auto o = quiet_options(server.url() + "/v1/traces");
    o.service_name = "svc-test";
    o.max_batch = 3;
    o.headers = {{"x-api-key", "k1"}, {"Authorization", "Bearer t0k3n"}};
    auto exporter = make_exporter(o, metrics);

    exporter->flush(patience);  // nothing queued: returns, sends nothing
    for (int64_t i = 0; i < 7; ++i) exporter->export_span(numbered_span(i));
    BOOST_TEST_REQUIRE(server.wait_for_requests(2, patience));  // two full batches, no flush needed
    exporter->flush(patience);                                  // the seventh span

    BOOST_TEST(batch_sizes(server) == (std::vector<std::size_t>{3, 3, 1}), boost::test_tools::per_element());
    BOOST_TEST(numbers_received(server) == range(0, 7), boost::test_tools::per_element());
    for (const auto& r : server.requests()) {
        BOOST_TEST(r.method == "POST");
        BOOST_TEST(r.target == "/v1/traces");
        BOOST_TEST(r.header("content-type").value_or("<none>") == "application/json");
        BOOST_TEST(r.header("content-length").value_or("<none>") == std::to_string(r.body.size()));
        BOOST_TEST(r.header("host").value_or("<none>") == "127.0.0.1:" + std::to_string(server.port()));
        BOOST_TEST(r.header("x-api-key").value_or("<none>") == "k1");
        BOOST_TEST(r.header("authorization").value_or("<none>") == "Bearer t0k3n");
        const auto body = r.json();
        BOOST_TEST(body.at("resourceSpans").at(0).at("resource").at("attributes").at(0).at("value").at("stringValue") ==
                   "svc-test");
        BOOST_TEST(spans_of(body).at(0).at("traceId") == "4bf92f3577b34da6a3ce929d0e0e4736");
    }
    BOOST_TEST(m.exported() == 7u);
    BOOST_TEST(m.requests("ok") == 3u);
    BOOST_TEST(m.requests("http_error") == 0u);
    BOOST_TEST(m.requests("network_error") == 0u);
    BOOST_TEST(m.dropped("queue_full") == 0u);
    BOOST_TEST(m.dropped("export_failed") == 0u);
    // The families render in the host's registry.
    const std::string text = metrics.render_prometheus();
    BOOST_TEST(text.find("toolhost_trace_spans_exported_total 7") != std::string::npos, text);
    BOOST_TEST(text.find("toolhost_trace_export_requests_total{result=\"ok\"} 3") != std::string::npos, text);
}

BOOST_AUTO_TEST_CASE(a_collector_error_drops_the_batch_and_the_exporter_goes_on) {
    std::atomic<bool> failing{true};
    http_server server([&](const http_request&) {
        if (failing.load())
            return http_response{.status = 500, .headers = {}, .body = "collector broke", .hold = {}, .drop = false};
        return http_response::json(200, json::object{});
    });
    metrics_registry metrics;
    exporter_metrics m(metrics);
    auto exporter = make_exporter(quiet_options(server.url() + "/v1/traces"), metrics);

    exporter->export_span(numbered_span(0));
    exporter->export_span(numbered_span(1));
    exporter->flush(patience);
    BOOST_TEST(server.request_count() == 1u);
    BOOST_TEST(m.requests("http_error") == 1u);
    BOOST_TEST(m.dropped("export_failed") == 2u);
    BOOST_TEST(m.exported() == 0u);

    failing = false;
    exporter->export_span(numbered_span(2));
    exporter->flush(patience);
    BOOST_TEST(server.request_count() == 2u);
    BOOST_TEST(m.requests("ok") == 1u);
    BOOST_TEST(m.exported() == 1u);
    BOOST_TEST(m.dropped("export_failed") == 2u);  // the failed batch is not sent again
    BOOST_TEST(numbers_received(server) == (std::vector<int64_t>{0, 1, 2}), boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(an_unreachable_collector_is_counted_and_logged_once_per_interval) {
    refusing_port nobody;
    metrics_registry metrics;
    exporter_metrics m(metrics);
    auto o = quiet_options(nobody.url());
    o.error_log_interval = 1h;  // so the count of warnings below does not depend on speed

    std::stringstream captured;
    auto* old = std::clog.rdbuf(captured.rdbuf());
    toolhost::logging::init(toolhost::logging::level::warning, toolhost::logging::format::json);
    {
        auto exporter = make_exporter(o, metrics);
        for (int64_t i = 0; i < 3; ++i) {
            exporter->export_span(numbered_span(2 * i));
            exporter->export_span(numbered_span(2 * i + 1));
            exporter->flush(patience);
            BOOST_TEST(m.requests("network_error") == static_cast<uint64_t>(i + 1));
        }
    }
    toolhost::logging::init(toolhost::logging::level::info, toolhost::logging::format::text);
    std::clog.rdbuf(old);

    BOOST_TEST(m.requests("network_error") == 3u);
    BOOST_TEST(m.requests("ok") == 0u);
    BOOST_TEST(m.dropped("export_failed") == 6u);
    BOOST_TEST(m.exported() == 0u);

    std::vector<json::value> warnings;
    std::string line;
    while (std::getline(captured, line)) {
        auto v = json::parse(line);
        if (v.at("channel") == "tracing") warnings.push_back(v);
    }
    BOOST_TEST_REQUIRE(warnings.size() == 1u, captured.str());
    BOOST_TEST(warnings[0].at("level") == "warning");
    BOOST_TEST(warnings[0].at("endpoint") == json::value(nobody.url()));
    BOOST_TEST(warnings[0].at("spans") == 2);
    BOOST_TEST(warnings[0].at("error").as_string().find("connect") != json::string::npos, warnings[0]);
}

BOOST_AUTO_TEST_CASE(a_collector_that_never_answers_times_out) {
    auto never = std::make_shared<toolhost::test::gate>();  // opened only by the server's destructor
    http_server server([&](const http_request&) {
        return http_response{.status = 200, .headers = {}, .body = {}, .hold = never, .drop = false};
    });
    metrics_registry metrics;
    exporter_metrics m(metrics);
    auto o = quiet_options(server.url() + "/v1/traces");
    o.request_timeout = 200ms;
    auto exporter = make_exporter(o, metrics);
    exporter->export_span(numbered_span(0));
    exporter->flush(patience);
    BOOST_TEST(server.request_count() == 1u);  // it was sent; the answer never came
    BOOST_TEST(m.requests("network_error") == 1u);
    BOOST_TEST(m.dropped("export_failed") == 1u);
    BOOST_TEST(m.exported() == 0u);
}

BOOST_AUTO_TEST_CASE(a_full_queue_drops_and_counts_while_the_collector_stalls) {
    auto stall = std::make_shared<toolhost::test::gate>();
    std::atomic<int> seen{0};
    http_server server([&](const http_request&) {
        http_response r = http_response::json(200, json::object{});
        if (seen.fetch_add(1) == 0) r.hold = stall;  // the first request waits for the gate
        return r;
    });
    metrics_registry metrics;
    exporter_metrics m(metrics);
    auto o = quiet_options(server.url() + "/v1/traces");
    o.max_queue = 4;
    o.max_batch = 2;
    auto exporter = make_exporter(o, metrics);

    exporter->export_span(numbered_span(0));
    exporter->export_span(numbered_span(1));  // a full batch: sent, and held by the collector
    BOOST_TEST_REQUIRE(server.wait_for_requests(1, patience));
    for (int64_t i = 2; i < 9; ++i) exporter->export_span(numbered_span(i));  // 4 fit, 3 do not
    BOOST_TEST(m.dropped("queue_full") == 3u);
    BOOST_TEST(m.exported() == 0u);

    stall->open();
    exporter->flush(patience);
    BOOST_TEST(numbers_received(server) == range(0, 6), boost::test_tools::per_element());
    BOOST_TEST(m.exported() == 6u);
    BOOST_TEST(m.requests("ok") == 3u);
    BOOST_TEST(m.dropped("queue_full") == 3u);
    BOOST_TEST(m.dropped("export_failed") == 0u);

    exporter->export_span(numbered_span(9));  // room again
    exporter->flush(patience);
    BOOST_TEST(m.exported() == 7u);
}

BOOST_AUTO_TEST_CASE(partial_success_counts_the_rejected_spans) {
    http_server server([](const http_request&) {
        return http_response::json(
            200, json::parse(R"({"partialSuccess": {"rejectedSpans": "2", "errorMessage": "too old"}})"));
    });
    metrics_registry metrics;
    exporter_metrics m(metrics);
    auto exporter = make_exporter(quiet_options(server.url() + "/v1/traces"), metrics);
    for (int64_t i = 0; i < 5; ++i) exporter->export_span(numbered_span(i));
    exporter->flush(patience);
    BOOST_TEST(m.requests("ok") == 1u);
    BOOST_TEST(m.exported() == 3u);
    BOOST_TEST(m.dropped("export_failed") == 2u);
}

BOOST_AUTO_TEST_CASE(the_destructor_delivers_what_is_queued) {
    http_server server([](const http_request&) { return http_response::json(200, json::object{}); });
    metrics_registry metrics;
    exporter_metrics m(metrics);
    auto exporter = make_exporter(quiet_options(server.url()), metrics);  // no path: /v1/traces
    for (int64_t i = 0; i < 5; ++i) exporter->export_span(numbered_span(i));
    BOOST_TEST(server.request_count() == 0u);  // below max_batch, and the interval is an hour
    exporter.reset();
    BOOST_TEST(numbers_received(server) == range(0, 5), boost::test_tools::per_element());
    BOOST_TEST_REQUIRE(server.request_count() == 1u);
    BOOST_TEST(server.requests()[0].target == "/v1/traces");
    BOOST_TEST(m.exported() == 5u);
}

BOOST_AUTO_TEST_CASE(the_destructor_gives_up_on_a_hung_collector_and_counts_the_loss) {
    auto never = std::make_shared<toolhost::test::gate>();
    http_server server([&](const http_request&) {
        return http_response{.status = 200, .headers = {}, .body = {}, .hold = never, .drop = false};
    });
    metrics_registry metrics;
    exporter_metrics m(metrics);
    auto o = quiet_options(server.url() + "/v1/traces");
    o.max_batch = 1;
    o.request_timeout = 300ms;
    auto exporter = make_exporter(o, metrics);
    exporter->export_span(numbered_span(0));  // sent at once, never answered
    BOOST_TEST_REQUIRE(server.wait_for_requests(1, patience));
    for (int64_t i = 1; i < 4; ++i) exporter->export_span(numbered_span(i));
    exporter.reset();  // returns: every request ends by request_timeout after shutdown starts
    BOOST_TEST(m.exported() == 0u);
    BOOST_TEST(m.dropped("export_failed") == 4u);  // sent and unanswered, or left in the queue
    BOOST_TEST(m.requests("ok") == 0u);
}

BOOST_AUTO_TEST_CASE(concurrent_producers_lose_nothing_uncounted) {
    std::atomic<int> requests{0};
    http_server server([&](const http_request&) {
        ++requests;
        return http_response::json(200, json::object{});
    });
    metrics_registry metrics;
    exporter_metrics m(metrics);
    auto o = quiet_options(server.url() + "/v1/traces");
    o.max_queue = 64;
    o.max_batch = 16;
    auto exporter = make_exporter(o, metrics);

    constexpr int threads = 4;
    constexpr int per_thread = 500;
    std::vector<std::thread> producers;
    for (int t = 0; t < threads; ++t) {
        producers.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) exporter->export_span(numbered_span(t * per_thread + i));
        });
    }
    for (auto& p : producers) p.join();
    exporter->flush(patience);

    const auto received = numbers_received(server);
    BOOST_TEST(m.exported() == received.size());
    BOOST_TEST(m.exported() + m.dropped("queue_full") == static_cast<uint64_t>(threads * per_thread));
    BOOST_TEST(m.dropped("export_failed") == 0u);
    BOOST_TEST(std::set<int64_t>(received.begin(), received.end()).size() == received.size());  // none twice
    for (auto size : batch_sizes(server)) BOOST_TEST(size <= 16u);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------------------------------
BOOST_AUTO_TEST_SUITE(configuration)

namespace {

using env_map = std::map<std::string, std::string, std::less<>>;

toolhost::getenv_function env_of(env_map vars) {
    return [vars = std::move(vars)](std::string_view name) -> std::optional<std::string> {
        auto it = vars.find(name);
        if (it == vars.end()) return std::nullopt;
        return it->second;
    };
}

/// "line:col" (1-based) of the first occurrence of `needle` in `text`.
std::string at(const std::string& text, const std::string& needle) {
    const auto pos = text.find(needle);
    BOOST_TEST_REQUIRE(pos != std::string::npos, needle);
    const auto line_start = text.rfind('\n', pos);
    const std::size_t line =
        static_cast<std::size_t>(std::count(text.begin(), text.begin() + static_cast<long>(pos), '\n')) + 1;
    const std::size_t column = pos - (line_start == std::string::npos ? 0 : line_start + 1) + 1;
    return std::to_string(line) + ":" + std::to_string(column);
}

std::vector<std::string> messages(const std::vector<toolhost::json_diagnostic>& errors) {
    std::vector<std::string> out;
    for (const auto& e : errors) out.push_back(e.to_string());
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(a_full_tracing_section) {
    toolhost::test::temp_dir dir;
    const auto file = dir / "toolhost.json";
    toolhost::test::write_file(file, R"({
  "tracing": {
    // a collector sidecar
    "otlp_endpoint": "http://127.0.0.1:4318/v1/traces",
    "service_name": "toolhost-prod",
    "sample_ratio": 0.25,
    "headers": {"x-api-key": "s3cret", "X-Tenant": "a"},
    "max_queue": 100,
    "max_batch": 10,
    "flush_interval_ms": 250,
    "request_timeout_ms": 2000,
  },
})");
    auto config = toolhost::load_config(file, env_of({}));
    BOOST_TEST_REQUIRE(config.has_value(), (config.has_error() ? messages(config.error()).at(0) : ""));
    BOOST_TEST_REQUIRE(config->tracing.has_value());
    const auto& t = *config->tracing;
    BOOST_TEST(t.exporter.endpoint == "http://127.0.0.1:4318/v1/traces");
    BOOST_TEST(t.exporter.service_name == "toolhost-prod");
    BOOST_TEST(t.sample_ratio == 0.25);
    BOOST_TEST((t.exporter.headers == std::map<std::string, std::string>{{"x-api-key", "s3cret"}, {"X-Tenant", "a"}}));
    BOOST_TEST(t.exporter.max_queue == 100u);
    BOOST_TEST(t.exporter.max_batch == 10u);
    BOOST_TEST(t.exporter.flush_interval.count() == 250);
    BOOST_TEST(t.exporter.request_timeout.count() == 2000);

    // What the file says is what an exporter accepts.
    metrics_registry metrics;
    std::string error;
    BOOST_TEST(otlp_http_exporter::create(t.exporter, metrics, &error) != nullptr, error);
}

BOOST_AUTO_TEST_CASE(no_endpoint_means_no_tracing) {
    toolhost::test::temp_dir dir;
    const auto file = dir / "toolhost.json";
    for (const char* text : {"{}", R"({"tracing": {}})", R"({"tracing": {"service_name": "x", "sample_ratio": 0}})",
                             R"({"tracing": {"otlp_endpoint": ""}})"}) {
        toolhost::test::write_file(file, text);
        auto config = toolhost::load_config(file, env_of({}));
        BOOST_TEST_REQUIRE(config.has_value(), text);
        BOOST_TEST(!config->tracing.has_value(), text);
    }
    auto defaults = toolhost::default_config(env_of({}));
    BOOST_TEST_REQUIRE(defaults.has_value());
    BOOST_TEST(!defaults->tracing.has_value());
}

BOOST_AUTO_TEST_CASE(the_environment_sets_the_endpoint) {
    toolhost::test::temp_dir dir;
    const auto file = dir / "toolhost.json";

    // Alone: tracing on with the defaults.
    toolhost::test::write_file(file, "{}");
    auto alone = toolhost::load_config(file, env_of({{"TOOLHOST_OTLP_ENDPOINT", "http://10.0.0.7:4318/v1/traces"}}));
    BOOST_TEST_REQUIRE(alone.has_value());
    BOOST_TEST_REQUIRE(alone->tracing.has_value());
    BOOST_TEST(alone->tracing->exporter.endpoint == "http://10.0.0.7:4318/v1/traces");
    BOOST_TEST(alone->tracing->exporter.service_name == "toolhost");
    BOOST_TEST(alone->tracing->sample_ratio == 1.0);

    auto no_file = toolhost::default_config(env_of({{"TOOLHOST_OTLP_ENDPOINT", "http://collector:4318"}}));
    BOOST_TEST_REQUIRE(no_file.has_value());
    BOOST_TEST_REQUIRE(no_file->tracing.has_value());
    BOOST_TEST(no_file->tracing->exporter.endpoint == "http://collector:4318");

    // Over the file: the endpoint changes, the file's other keys stay. Empty counts as unset.
    toolhost::test::write_file(
        file,
        R"({"tracing": {"otlp_endpoint": "http://127.0.0.1:4318/v1/traces", "service_name": "a", "sample_ratio": 0.5}})");
    auto over = toolhost::load_config(file, env_of({{"TOOLHOST_OTLP_ENDPOINT", "http://[::1]:9999/traces"}}));
    BOOST_TEST_REQUIRE(over.has_value());
    BOOST_TEST(over->tracing->exporter.endpoint == "http://[::1]:9999/traces");
    BOOST_TEST(over->tracing->exporter.service_name == "a");
    BOOST_TEST(over->tracing->sample_ratio == 0.5);
    auto empty = toolhost::load_config(file, env_of({{"TOOLHOST_OTLP_ENDPOINT", ""}}));
    BOOST_TEST_REQUIRE(empty.has_value());
    BOOST_TEST(empty->tracing->exporter.endpoint == "http://127.0.0.1:4318/v1/traces");

    // The file's section without an endpoint, turned on from the environment.
    toolhost::test::write_file(file, R"({"tracing": {"service_name": "b"}})");
    auto on = toolhost::load_config(file, env_of({{"TOOLHOST_OTLP_ENDPOINT", "http://127.0.0.1:4318/v1/traces"}}));
    BOOST_TEST_REQUIRE(on.has_value());
    BOOST_TEST_REQUIRE(on->tracing.has_value());
    BOOST_TEST(on->tracing->exporter.service_name == "b");

    auto bad = toolhost::load_config(file, env_of({{"TOOLHOST_OTLP_ENDPOINT", "https://collector"}}));
    BOOST_TEST_REQUIRE(bad.has_error());
    BOOST_TEST_REQUIRE(bad.error().size() == 1u);
    BOOST_TEST(bad.error()[0].to_string().starts_with(
                   "environment:1:1: error: TOOLHOST_OTLP_ENDPOINT: https is not supported"),
               bad.error()[0].to_string());
    BOOST_TEST(bad.error()[0].to_string().ends_with(", got \"https://collector\""), bad.error()[0].to_string());
}

BOOST_AUTO_TEST_CASE(every_problem_is_located) {
    toolhost::test::temp_dir dir;
    const auto file = dir / "toolhost.json";
    const std::string text =
        "{\n"
        "  \"tracing\": {\n"
        "    \"otlp_endpoint\": \"https://collector/v1/traces\",\n"
        "    \"service_name\": \"\",\n"
        "    \"sample_ratio\": 1.5,\n"
        "    \"headers\": {\"Content-Type\": \"text/plain\", \"x-ok\": \"fine\", \"x-bad\": \"a\\r\\nb\", \"x-num\": "
        "5},\n"
        "    \"max_queue\": 0,\n"
        "    \"max_batch\": \"many\",\n"
        "    \"flush_interval_ms\": 2.5,\n"
        "    \"request_timeout_ms\": -1,\n"
        "    \"exporter\": \"zipkin\"\n"
        "  }\n"
        "}\n";
    toolhost::test::write_file(file, text);
    auto config = toolhost::load_config(file, env_of({}));
    BOOST_TEST_REQUIRE(config.has_error());
    const std::string f = file.string() + ":";
    const std::vector<std::string> expected = {
        f + at(text, "\"https://") +
            ": error: /tracing/otlp_endpoint: https is not supported; send to a collector on "
            "this machine or a sidecar that forwards over TLS, got \"https://collector/v1/traces\"",
        f + at(text, "\"\",") + ": error: /tracing/service_name: expected a non-empty string, got \"\"",
        f + at(text, "1.5") + ": error: /tracing/sample_ratio: expected a number from 0 to 1, got 1.5",
        f + at(text, "\"Content-Type\"") +
            ": error: /tracing/headers/Content-Type: the exporter sets 'Content-Type' itself",
        f + at(text, "\"a\\r") + ": error: /tracing/headers/x-bad: header values cannot contain control characters",
        f + at(text, "5}") + ": error: /tracing/headers/x-num: expected a string, got 5",
        f + at(text, "0,\n    \"max_batch") +
            ": error: /tracing/max_queue: expected an integer from 1 to 1000000, got 0",
        f + at(text, "\"many\"") + ": error: /tracing/max_batch: expected an integer from 1 to 1000000, got \"many\"",
        f + at(text, "2.5") + ": error: /tracing/flush_interval_ms: expected an integer from 1 to 3600000, got 2.5",
        f + at(text, "-1") + ": error: /tracing/request_timeout_ms: expected an integer from 1 to 3600000, got -1",
        f + at(text, "\"exporter\"") +
            ": error: /tracing/exporter: unknown key 'exporter' (expected one of: "
            "otlp_endpoint, service_name, sample_ratio, headers, max_queue, max_batch, flush_interval_ms, "
            "request_timeout_ms)",
    };
    BOOST_TEST(messages(config.error()) == expected, boost::test_tools::per_element());

    toolhost::test::write_file(file, "{\"tracing\": [\"http://127.0.0.1:4318\"]}");
    auto not_object = toolhost::load_config(file, env_of({}));
    BOOST_TEST_REQUIRE(not_object.has_error());
    BOOST_TEST(messages(not_object.error()) ==
                   std::vector<std::string>{file.string() + ":1:13: error: /tracing: expected an object, got an array"},
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_SUITE_END()
