// Telemetry of every call: the span (name, attributes, per-attempt events, W3C trace context in
// and out, nested calls as child spans) and the JSON-lines call logs.
#define BOOST_TEST_MODULE telemetry
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>
#include <toolhost/logging.hpp>
#include <toolhost/tracing.hpp>

#include "http_server.hpp"
#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <iostream>
#include <mutex>
#include <sstream>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace toolhost;
using namespace std::chrono_literals;
using toolhost::test::temp_dir;

namespace {

// Keeps every span handed to it: the host's side of tracing, seen from the exporter interface.
// (The OTLP exporter itself is tested against a real HTTP collector in test_tracing.)
class collecting_exporter final : public span_exporter {
public:
    void export_span(span_data span) noexcept override {
        std::lock_guard lock(m_);
        spans_.push_back(std::move(span));
    }
    void flush(std::chrono::milliseconds) noexcept override {}
    std::vector<span_data> spans() const {
        std::lock_guard lock(m_);
        return spans_;
    }

private:
    mutable std::mutex m_;
    std::vector<span_data> spans_;
};

template <std::size_t N>
std::string hex(const std::array<uint8_t, N>& a) {
    static const char* d = "0123456789abcdef";
    std::string s;
    for (auto b : a) {
        s += d[b >> 4];
        s += d[b & 15];
    }
    return s;
}

const attribute_value* attr(const attributes& as, std::string_view key) {
    for (const auto& [k, v] : as)
        if (k == key) return &v;
    return nullptr;
}

struct env {
    temp_dir dir;
    std::shared_ptr<collecting_exporter> exporter = std::make_shared<collecting_exporter>();
    std::unique_ptr<host> h;

    explicit env(call_policy policy = {}) {
        host_options o;
        o.config = toolhost::test::testkit_config(dir.path());
        o.default_policy = std::move(policy);
        o.exporter = exporter;
        h = std::make_unique<host>(std::move(o));
        h->load_plugins();
        BOOST_TEST_REQUIRE(h->start({}).ok());
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(each_call_records_one_span_and_hands_the_plugin_its_context) {
    env e;
    call_options o;
    o.request_id = "req-7";
    o.session_id = "sess-1";
    auto r = e.h->call("testkit_mt", "context", json::object{}, o);
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
    auto spans = e.exporter->spans();
    BOOST_TEST_REQUIRE(spans.size() == 1u);
    const auto& s = spans[0];
    BOOST_TEST(s.name == "tool.testkit_mt.context");
    BOOST_TEST(!s.parent_span_id.has_value());
    BOOST_TEST(!s.error);
    BOOST_TEST((s.end >= s.start));
    BOOST_TEST(std::get<std::string>(*attr(s.attributes, "toolhost.tool")) == "testkit_mt");
    BOOST_TEST(std::get<std::string>(*attr(s.attributes, "toolhost.operation")) == "context");
    BOOST_TEST(std::get<std::string>(*attr(s.attributes, "toolhost.status")) == "OK");
    BOOST_TEST(std::get<int64_t>(*attr(s.attributes, "toolhost.attempts")) == 1);
    BOOST_TEST(std::get<std::string>(*attr(s.attributes, "toolhost.request_id")) == "req-7");
    BOOST_TEST(std::get<std::string>(*attr(s.attributes, "toolhost.session_id")) == "sess-1");
    BOOST_TEST_REQUIRE(s.events.size() == 1u);
    BOOST_TEST(s.events[0].name == "attempt");
    // The plugin sees a traceparent naming this span, so its own downstream calls join the trace.
    const std::string seen(json::parse(*r).at("traceparent").as_string());
    BOOST_TEST(seen == "00-" + hex(s.trace_id) + "-" + hex(s.span_id) + "-01");
    BOOST_TEST(trace_context::parse(seen).has_value());
}

BOOST_AUTO_TEST_CASE(a_callers_traceparent_makes_the_span_its_child) {
    env e;
    call_options o;
    o.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    auto r = e.h->call("testkit_mt", "context", json::object{}, o);
    BOOST_TEST_REQUIRE(r.has_value());
    auto spans = e.exporter->spans();
    BOOST_TEST_REQUIRE(spans.size() == 1u);
    BOOST_TEST(hex(spans[0].trace_id) == "4bf92f3577b34da6a3ce929d0e0e4736");
    BOOST_TEST_REQUIRE(spans[0].parent_span_id.has_value());
    BOOST_TEST(hex(*spans[0].parent_span_id) == "00f067aa0ba902b7");
    const std::string seen(json::parse(*r).at("traceparent").as_string());
    BOOST_TEST(seen == "00-4bf92f3577b34da6a3ce929d0e0e4736-" + hex(spans[0].span_id) + "-01");

    // Not sampled by the caller: nothing recorded, and the plugin gets the caller's context as is.
    o.traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
    r = e.h->call("testkit_mt", "context", json::object{}, o);
    BOOST_TEST(e.exporter->spans().size() == 1u);
    BOOST_TEST(std::string(json::parse(*r).at("traceparent").as_string()) == o.traceparent);

    // Invalid (upper-case hex): ignored, a new trace starts.
    o.traceparent = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01";
    r = e.h->call("testkit_mt", "context", json::object{}, o);
    spans = e.exporter->spans();
    BOOST_TEST_REQUIRE(spans.size() == 2u);
    BOOST_TEST(!spans[1].parent_span_id.has_value());
    BOOST_TEST(hex(spans[1].trace_id) != "4bf92f3577b34da6a3ce929d0e0e4736");
}

BOOST_AUTO_TEST_CASE(a_failed_call_with_retries_has_an_event_per_attempt_and_an_error_status) {
    call_policy p;
    p.retry.initial_backoff = 1ms;
    p.retry.max_backoff = 1ms;
    p.retry.max_attempts = 3;
    env e(p);
    auto r = e.h->call("testkit_mt", "fail", json::object{{"code", "UNAVAILABLE"}, {"message", "down"}});
    BOOST_TEST_REQUIRE(!r.has_value());
    auto spans = e.exporter->spans();
    BOOST_TEST_REQUIRE(spans.size() == 1u);
    const auto& s = spans[0];
    BOOST_TEST(s.error);
    BOOST_TEST(s.status_message == "down");
    BOOST_TEST(std::get<int64_t>(*attr(s.attributes, "toolhost.attempts")) == 3);
    BOOST_TEST(std::get<std::string>(*attr(s.attributes, "toolhost.status")) == "UNAVAILABLE");
    std::vector<std::string> names;
    for (const auto& ev : s.events) names.push_back(ev.name);
    BOOST_TEST((names == std::vector<std::string>{"attempt", "retry", "attempt", "retry", "attempt"}));
    BOOST_TEST(std::get<std::string>(*attr(s.events[0].attributes, "error")) == "down");
    BOOST_TEST(std::get<int64_t>(*attr(s.events[4].attributes, "attempt")) == 3);
    for (std::size_t i = 1; i < s.events.size(); ++i) BOOST_TEST((s.events[i].time >= s.events[i - 1].time));
}

BOOST_AUTO_TEST_CASE(a_nested_call_is_a_child_span_of_its_caller) {
    env e;
    auto r = e.h->call("testkit", "call_tool",
                       json::object{{"tool", "testkit_mt"}, {"operation", "context"}, {"arguments", json::object{}}});
    BOOST_TEST_REQUIRE(r.has_value());
    auto spans = e.exporter->spans();
    BOOST_TEST_REQUIRE(spans.size() == 2u);  // the nested one ends first
    const auto& inner = spans[0];
    const auto& outer = spans[1];
    BOOST_TEST(inner.name == "tool.testkit_mt.context");
    BOOST_TEST(outer.name == "tool.testkit.call_tool");
    BOOST_TEST(hex(inner.trace_id) == hex(outer.trace_id));
    BOOST_TEST_REQUIRE(inner.parent_span_id.has_value());
    BOOST_TEST(hex(*inner.parent_span_id) == hex(outer.span_id));
    BOOST_TEST(std::get<int64_t>(*attr(inner.attributes, "toolhost.nesting")) == 1);
}

BOOST_AUTO_TEST_CASE(call_start_and_finish_are_json_lines_at_info) {
    env e;
    std::stringstream captured;
    auto* old = std::clog.rdbuf(captured.rdbuf());
    logging::init(logging::level::info, logging::format::json);
    call_options o;
    o.request_id = "r-\"quoted\"\n";
    o.session_id = "s-9";
    auto ok = e.h->call("testkit_mt", "echo", json::object{}, o);
    auto failed = e.h->call("testkit_mt", "fail_unsafe",
                            json::object{{"code", "NOT_FOUND"}, {"message", "no \"such\" row\n"}}, o);
    logging::init(logging::level::off, logging::format::text);
    // Off: nothing more is written.
    auto quiet = e.h->call("testkit_mt", "echo", json::object{}, o);
    std::clog.rdbuf(old);
    BOOST_TEST(ok.has_value());
    BOOST_TEST(!failed.has_value());
    std::vector<json::object> lines;
    std::string line;
    while (std::getline(captured, line)) {
        auto v = json::parse(line);  // every line is valid JSON whatever the ids and errors contain
        if (v.at("channel") == "call") lines.push_back(v.as_object());
    }
    BOOST_TEST_REQUIRE(lines.size() == 4u, captured.str());
    BOOST_TEST(lines[0].at("message") == "call started");
    BOOST_TEST(lines[0].at("tool") == "testkit_mt");
    BOOST_TEST(lines[0].at("operation") == "echo");
    BOOST_TEST(lines[0].at("request_id") == "r-\"quoted\"\n");
    BOOST_TEST(lines[0].at("session_id") == "s-9");
    BOOST_TEST(lines[1].at("message") == "call finished");
    BOOST_TEST(lines[1].at("status") == "OK");
    BOOST_TEST(lines[1].at("attempt") == 1);
    BOOST_TEST(lines[1].at("duration_ms").is_double());
    BOOST_TEST(!lines[1].contains("error"));
    BOOST_TEST(lines[3].at("status") == "NOT_FOUND");
    BOOST_TEST(lines[3].at("error") == "no \"such\" row\n");
}

BOOST_AUTO_TEST_CASE(configured_tracing_ships_spans_to_a_real_collector) {
    // A collector on loopback, and a configuration file that names it.
    toolhost::test::http_server collector(
        [](const toolhost::test::http_request&) { return toolhost::test::http_response::json(200, json::object{}); });
    temp_dir dir;
    auto plugins = dir / "plugins";
    fs::create_directory(plugins);
    toolhost::test::copy_into(TOOLHOST_FIXTURE_TESTKIT, plugins, "testkit.so");
    toolhost::test::write_file(
        dir / "toolhost.json",
        "{\"log_level\": \"error\", \"tracing\": {\"otlp_endpoint\": \"" + collector.url() +
            "/v1/traces\", \"service_name\": \"support-agent\", \"flush_interval_ms\": 3600000}}");
    auto c = load_config(dir / "toolhost.json", [](std::string_view) { return std::optional<std::string>(); });
    BOOST_TEST_REQUIRE(c.has_value());
    c->plugin_dirs = {plugins};
    c->data_dir = dir / "var";
    c->threads = 2;
    {
        host h(std::move(*c));
        h.load_plugins();
        BOOST_TEST_REQUIRE(h.start({}).ok());
        call_options o;
        o.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        BOOST_TEST(h.call("testkit_mt", "echo", json::object{{"x", 1}}, o).has_value());
        // shutdown flushes the exporter: the span reaches the collector before it returns
    }
    BOOST_TEST_REQUIRE(collector.wait_for_requests(1));
    const auto req = collector.requests().at(0);
    BOOST_TEST(req.method == "POST");
    BOOST_TEST(req.path() == "/v1/traces");
    BOOST_TEST(req.header("content-type").value_or("") == "application/json");
    const auto body = req.json();
    const auto& rs = body.at("resourceSpans").at(0);
    bool named = false;
    for (const auto& a : rs.at("resource").at("attributes").as_array())
        if (a.at("key") == "service.name") named = a.at("value").at("stringValue") == "support-agent";
    BOOST_TEST(named);
    const auto& span = rs.at("scopeSpans").at(0).at("spans").at(0);
    BOOST_TEST(span.at("name") == "tool.testkit_mt.echo");
    BOOST_TEST(span.at("traceId") == "0af7651916cd43dd8448eb211c80319c");
    BOOST_TEST(span.at("parentSpanId") == "b7ad6b7169203331");
}

BOOST_AUTO_TEST_CASE(a_call_without_a_request_id_gets_one_for_all_its_attempts) {
    call_policy p;
    p.retry.initial_backoff = 1ms;
    p.retry.max_backoff = 1ms;
    env e(p);
    auto r = e.h->call("testkit_mt", "context", json::object{});
    BOOST_TEST_REQUIRE(r.has_value());
    const std::string id(json::parse(*r).at("request_id").as_string());
    BOOST_TEST(id.size() == 16u);
    BOOST_TEST(id.find_first_not_of("0123456789abcdef") == std::string::npos, id);
    BOOST_TEST(std::get<std::string>(*attr(e.exporter->spans().at(0).attributes, "toolhost.request_id")) == id);
    auto again = e.h->call("testkit_mt", "context", json::object{});
    BOOST_TEST(std::string(json::parse(*again).at("request_id").as_string()) != id);
    // Every attempt of one call sees the same id: a retried create can recognise itself.
    std::vector<std::string> seen;
    auto sub = e.h->subscribe([&](const host_event& ev) {
        if (ev.kind == host_event_kind::retry) seen.emplace_back(ev.request_id);
    });
    auto failed = e.h->call("testkit_mt", "fail", json::object{{"code", "UNAVAILABLE"}, {"message", "m"}});
    e.h->unsubscribe(sub);
    BOOST_TEST_REQUIRE(seen.size() == 2u);
    BOOST_TEST(seen[0] == seen[1]);
    BOOST_TEST(seen[0].size() == 16u);
}
