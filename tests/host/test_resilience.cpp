// The resilience pipeline on a virtual clock: retry (idempotent only, never CANCELLED,
// retry-after honoured, budget), circuit breaker (trip, fail fast, probe, reset), bulkhead
// (limit, queue, reject), attempt timeout with abandoned calls, and a many-call soak in which
// every call gets exactly one result.
#define BOOST_TEST_MODULE resilience
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>
#include <toolhost/retry_policy.hpp>
#include <toolhost/timer_service.hpp>

#include "test_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdlib>
#include <future>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace toolhost;
using namespace std::chrono_literals;
using toolhost::test::temp_dir;

namespace {

using toolhost::test::contains;

using toolhost::test::testkit_config;

// A host with the testkit plugin on a manual clock and manual timers.
struct fixture {
    temp_dir dir;
    manual_clock time;
    manual_timer_service timers{time};
    sequence_random random{{0.0}};  // full jitter would give 0-length backoffs; quick_policy uses none
    std::unique_ptr<host> h;

    explicit fixture(call_policy policy = quick_policy()) {
        host_options o{testkit_config(dir.path(), 4), {}, std::move(policy), &time, &timers, &random, nullptr};
        h = std::make_unique<host>(std::move(o));
        h->load_plugins();
    }
    void start() { BOOST_TEST_REQUIRE(h->start({}).ok()); }

    static call_policy quick_policy() {
        call_policy p;
        p.timeout = 60s;
        p.attempt_timeout = 10s;
        p.retry.initial_backoff = 100ms;
        p.retry.max_backoff = 1s;
        p.retry.jitter = backoff_jitter::none;
        return p;
    }

    // Moves virtual time in small steps until the future is ready (timers fire on the way).
    // Time only moves while no plugin call runs (each tool's in-flight count is then just its
    // waiting calls), so a real plugin call never races the virtual clock.
    call_result drive(std::future<call_result>& f, std::chrono::milliseconds step = 10ms, int max_steps = 100000) {
        auto plugin_running = [&] {
            for (const auto& st : h->status())
                if (st.in_flight > 1) return true;
            return false;
        };
        for (int i = 0; i < max_steps;) {
            if (f.wait_for(std::chrono::microseconds(200)) == std::future_status::ready) return f.get();
            if (plugin_running()) continue;
            timers.advance(step);
            ++i;
        }
        BOOST_FAIL("the call never completed");
        return make_tool_error(status_code::internal, "unreachable");
    }

    std::future<call_result> call(const std::string& tool, const std::string& op, json::object args = {}) {
        return h->async_call(tool, op, std::move(args), {}, boost::asio::use_future);
    }

    int64_t plugin_calls(const std::string& tool = "testkit_mt") {
        auto f = call(tool, "stats");
        auto r = drive(f);
        BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
        return json::parse(*r).at("calls").as_int64();
    }
};

// Records the host's events (host::subscribe) as owned copies.
struct event_log {
    struct entry {
        host_event_kind kind;
        std::string tool, operation, message, reason;
        uint32_t attempt;
        status_code status;
        std::chrono::nanoseconds delay;
        breaker_state from, to;
    };
    host& h;
    uint64_t id;
    mutable std::mutex m;
    std::vector<entry> entries;

    explicit event_log(host& host_) : h(host_) {
        id = h.subscribe([this](const host_event& e) {
            std::lock_guard lock(m);
            entries.push_back({e.kind, std::string(e.tool), std::string(e.operation), std::string(e.message),
                               std::string(e.reason), e.attempt, e.status, e.delay, e.from, e.to});
        });
    }
    ~event_log() { h.unsubscribe(id); }
    std::vector<entry> of(host_event_kind k) const {
        std::lock_guard lock(m);
        std::vector<entry> out;
        for (const auto& e : entries)
            if (e.kind == k) out.push_back(e);
        return out;
    }
};

}  // namespace

BOOST_AUTO_TEST_CASE(idempotent_operation_is_retried_until_it_succeeds) {
    fixture fx;
    fx.start();
    event_log events(*fx.h);
    auto start = fx.time.now();
    auto f = fx.call("testkit", "fail", {{"code", "UNAVAILABLE"}, {"message", "flaky"}, {"succeed_on_attempt", 3}});
    auto r = fx.drive(f);
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
    BOOST_TEST(json::parse(*r).at("attempt").as_int64() == 3);
    // two backoffs without jitter: 100 ms then 200 ms
    BOOST_TEST((fx.time.now() - start >= 300ms));
    auto retries = events.of(host_event_kind::retry);
    BOOST_TEST_REQUIRE(retries.size() == 2u);
    BOOST_TEST(retries[0].attempt == 1u);
    BOOST_TEST((retries[0].delay == 100ms));
    BOOST_TEST(retries[1].attempt == 2u);
    BOOST_TEST((retries[1].delay == 200ms));
    BOOST_TEST((retries[1].status == status_code::unavailable));
    BOOST_TEST(retries[1].message == "flaky");
    BOOST_TEST(retries[1].operation == "fail");
}

BOOST_AUTO_TEST_CASE(nobody_hears_events_after_unsubscribing) {
    fixture fx;
    fx.start();
    std::atomic<int> heard{0};
    auto id = fx.h->subscribe([&](const host_event&) { heard.fetch_add(1); });
    auto f = fx.call("testkit", "fail", {{"code", "UNAVAILABLE"}, {"message", "m"}, {"succeed_on_attempt", 2}});
    BOOST_TEST(fx.drive(f).has_value());
    BOOST_TEST(heard.load() == 1);
    BOOST_TEST(fx.h->unsubscribe(id));
    BOOST_TEST(!fx.h->unsubscribe(id));
    f = fx.call("testkit", "fail", {{"code", "UNAVAILABLE"}, {"message", "m"}, {"succeed_on_attempt", 2}});
    BOOST_TEST(fx.drive(f).has_value());
    BOOST_TEST(heard.load() == 1);
    // A handler that throws is logged and does not disturb the call.
    fx.h->subscribe([](const host_event&) { throw std::runtime_error("handler bug"); });
    f = fx.call("testkit", "fail", {{"code", "UNAVAILABLE"}, {"message", "m"}, {"succeed_on_attempt", 2}});
    BOOST_TEST(fx.drive(f).has_value());
}

BOOST_AUTO_TEST_CASE(non_idempotent_operation_is_never_retried) {
    fixture fx;
    fx.start();
    auto f =
        fx.call("testkit", "fail_unsafe", {{"code", "UNAVAILABLE"}, {"message", "down"}, {"succeed_on_attempt", 2}});
    auto r = fx.drive(f);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::unavailable));
    BOOST_TEST(r.error().message == "down");
}

BOOST_AUTO_TEST_CASE(non_retryable_codes_and_cancelled_are_not_retried) {
    fixture fx;
    fx.start();
    for (auto code : {"INVALID_ARGUMENT", "CANCELLED", "NOT_FOUND", "INTERNAL"}) {
        auto f = fx.call("testkit", "fail", {{"code", code}, {"message", "m"}, {"succeed_on_attempt", 2}});
        auto r = fx.drive(f);
        BOOST_TEST_CONTEXT(code) {
            BOOST_TEST_REQUIRE(!r.has_value());
            BOOST_TEST(std::string(status_name(r.error().code)) == code);
        }
    }
}

BOOST_AUTO_TEST_CASE(retry_after_hint_is_honoured) {
    auto p = fixture::quick_policy();
    p.retry.max_attempts = 2;
    fixture fx(p);
    fx.start();
    auto f =
        fx.call("testkit", "fail",
                {{"code", "UNAVAILABLE"}, {"message", "busy"}, {"retry_after_ms", 5000}, {"succeed_on_attempt", 2}});
    // The first attempt fails at once; the retry must wait for the hint, not the 100 ms backoff.
    for (int i = 0; i < 20 && f.wait_for(1ms) != std::future_status::ready; ++i) fx.timers.advance(200ms);
    BOOST_TEST((f.wait_for(5ms) != std::future_status::ready));  // 4 s later: still waiting
    auto r = fx.drive(f, 100ms);
    BOOST_TEST_REQUIRE(r.has_value());
    BOOST_TEST(json::parse(*r).at("attempt").as_int64() == 2);
}

BOOST_AUTO_TEST_CASE(no_retry_when_the_deadline_leaves_no_time) {
    auto p = fixture::quick_policy();
    p.timeout = 150ms;
    p.attempt_timeout = 50ms;
    p.retry.initial_backoff = 200ms;
    p.retry.max_attempts = 2;
    p.retry.max_backoff = 200ms;
    BOOST_TEST(!toolhost::validate(p).empty());  // validate rejects it: 2 x 50 + 200 > 150
    auto ok = fixture::quick_policy();
    fixture fx(ok);
    BOOST_TEST_REQUIRE(fx.h->set_operation_policy("testkit", "fail",
                                                  [] {
                                                      auto q = fixture::quick_policy();
                                                      q.timeout = 250ms;
                                                      q.attempt_timeout = 20ms;
                                                      q.retry.max_attempts = 2;
                                                      q.retry.initial_backoff = 200ms;
                                                      q.retry.max_backoff = 200ms;
                                                      return q;
                                                  }())
                           .has_value());
    fx.start();
    auto f = fx.call("testkit", "fail",
                     {{"code", "UNAVAILABLE"}, {"message", "m"}, {"succeed_on_attempt", 2}, {"retry_after_ms", 1000}});
    auto r = fx.drive(f);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::unavailable));  // the last error stands
}

BOOST_AUTO_TEST_CASE(breaker_opens_fails_fast_probes_and_resets) {
    auto p = fixture::quick_policy();
    p.retry.max_attempts = 1;
    p.breaker.consecutive_failures = 3;
    p.breaker.open_duration = 30s;
    p.breaker.max_open_duration = 300s;
    fixture fx(p);
    fx.start();
    event_log events(*fx.h);
    auto fail = [&] {
        auto f = fx.call("testkit", "fail_unsafe", {{"code", "UNAVAILABLE"}, {"message", "backend down"}});
        return fx.drive(f);
    };
    for (int i = 0; i < 3; ++i) {
        auto r = fail();  // the call that trips it still returns its own error
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST(r.error().message == "backend down");
    }
    BOOST_TEST((fx.h->circuit_breaker_state("testkit")->state == breaker_state::open));
    auto f = fx.call("testkit", "echo");
    auto r = fx.drive(f, 1ms, 1);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::unavailable));
    BOOST_TEST(contains(r.error().message, "circuit breaker 'testkit' is open"), r.error().message);
    auto opened = events.of(host_event_kind::breaker_transition);
    BOOST_TEST_REQUIRE(opened.size() == 1u);
    BOOST_TEST((opened[0].from == breaker_state::closed && opened[0].to == breaker_state::open));
    BOOST_TEST(opened[0].tool == "testkit");
    auto rejected = events.of(host_event_kind::rejection);
    BOOST_TEST_REQUIRE(rejected.size() == 1u);
    BOOST_TEST(rejected[0].reason == "circuit_open");
    BOOST_TEST(rejected[0].operation == "echo");

    // After the open time a probe goes through; its success closes the breaker.
    fx.timers.advance(31s);
    f = fx.call("testkit", "echo", {{"probe", true}});
    r = fx.drive(f);
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
    BOOST_TEST((fx.h->circuit_breaker_state("testkit")->state == breaker_state::closed));

    // Manual controls: force open, then reset.
    BOOST_TEST(fx.h->force_open_circuit_breaker("testkit"));
    f = fx.call("testkit", "echo");
    BOOST_TEST(!fx.drive(f).has_value());
    fx.h->reset_all_circuit_breakers();
    f = fx.call("testkit", "echo");
    BOOST_TEST(fx.drive(f).has_value());
    BOOST_TEST(!fx.h->reset_circuit_breaker("nosuch"));
}

BOOST_AUTO_TEST_CASE(bulkhead_limits_queues_and_rejects) {
    auto p = fixture::quick_policy();
    p.bulkhead.max_concurrent = 1;
    p.bulkhead.max_queue = 1;
    p.retry.max_attempts = 1;
    fixture fx(p);
    fx.start();
    event_log events(*fx.h);
    boost::asio::cancellation_signal cancel_first;
    auto first = fx.h->async_call("testkit_mt", "rendezvous", json::object{{"n", 5}, {"timeout_ms", 60000}}, {},
                                  boost::asio::bind_cancellation_slot(cancel_first.slot(), boost::asio::use_future));
    while (fx.h->status("testkit_mt")->in_flight < 2) std::this_thread::yield();  // call + its plugin call
    auto second = fx.call("testkit_mt", "echo", {{"n", 2}});                      // queued
    auto third = fx.call("testkit_mt", "echo", {{"n", 3}});                       // rejected at once
    auto r3 = third.get();
    BOOST_TEST_REQUIRE(!r3.has_value());
    BOOST_TEST((r3.error().code == status_code::resource_exhausted));
    BOOST_TEST(contains(r3.error().message, "concurrency limit"), r3.error().message);
    auto rejected = events.of(host_event_kind::rejection);
    BOOST_TEST_REQUIRE(rejected.size() == 1u);
    BOOST_TEST(rejected[0].reason == "bulkhead_full");
    BOOST_TEST((rejected[0].status == status_code::resource_exhausted));
    if (second.wait_for(20ms) == std::future_status::ready) {
        auto r = second.get();
        BOOST_FAIL("the queued call completed early: " << (r ? *r : r.error().to_string()));
    }
    cancel_first.emit(boost::asio::cancellation_type::terminal);
    auto r1 = first.get();
    BOOST_TEST(r1.has_value());  // rendezvous returns {"reached":false} when cancelled
    auto r2 = second.get();
    BOOST_TEST_REQUIRE(r2.has_value(), (r2 ? "" : r2.error().to_string()));
    BOOST_TEST(json::parse(*r2).at("n").as_int64() == 2);
}

BOOST_AUTO_TEST_CASE(attempt_timeout_abandons_and_keeps_the_slot_until_the_plugin_returns) {
    auto p = fixture::quick_policy();
    p.attempt_timeout = 50ms;
    p.retry.max_attempts = 1;
    p.bulkhead.max_concurrent = 1;
    p.bulkhead.max_queue = 0;
    fixture fx(p);
    fx.start();
    event_log events(*fx.h);
    // overlap ignores cancellation: it really runs for 300 ms of wall time
    auto slow = fx.call("testkit", "overlap", {{"us", 300000}});
    // Wait until the attempt's timer is armed and the plugin is inside its 300 ms sleep.
    while (fx.h->status("testkit")->in_flight < 2 || fx.timers.pending() == 0) std::this_thread::yield();
    std::this_thread::sleep_for(50ms);
    fx.timers.advance(60ms);  // virtual: past the attempt deadline
    auto r = slow.get();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::deadline_exceeded), r.error().to_string());
    BOOST_TEST(fx.h->abandoned_calls() == 1);
    auto timeouts = events.of(host_event_kind::attempt_timeout);
    BOOST_TEST_REQUIRE(timeouts.size() == 1u);
    BOOST_TEST(timeouts[0].operation == "overlap");
    BOOST_TEST(timeouts[0].attempt == 1u);
    // The abandoned plugin call still holds the only slot.
    auto blocked = fx.call("testkit", "echo");
    auto rb = blocked.get();
    BOOST_TEST_REQUIRE(!rb.has_value());
    BOOST_TEST((rb.error().code == status_code::resource_exhausted));
    // Once the plugin returns, the slot is free again.
    while (fx.h->abandoned_calls() != 0) std::this_thread::sleep_for(1ms);
    while (fx.h->status("testkit")->in_flight != 0) std::this_thread::yield();
    auto after = fx.call("testkit", "echo");
    BOOST_TEST(fx.drive(after).has_value());
}

BOOST_AUTO_TEST_CASE(shutdown_ends_calls_waiting_for_a_retry) {
    auto p = fixture::quick_policy();
    p.retry.initial_backoff = 10s;
    p.retry.max_backoff = 10s;
    fixture fx(p);
    fx.start();
    auto f = fx.call("testkit", "fail", {{"code", "UNAVAILABLE"}, {"message", "m"}, {"succeed_on_attempt", 3}});
    // Waiting for its backoff: the first attempt is over (only the call itself is in flight)
    // and one timer, the retry's, is pending.
    while (fx.h->status("testkit")->in_flight != 1 || fx.timers.pending() != 1) std::this_thread::yield();
    fx.h->shutdown();
    auto r = f.get();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::unavailable));
    BOOST_TEST(contains(r.error().message, "shut down"), r.error().message);
}

BOOST_AUTO_TEST_CASE(many_calls_with_faults_each_get_exactly_one_result) {
    // Real time here: 16 callers, 5% of calls fail (half of those succeed on a retry).
    temp_dir dir;
    call_policy p;
    p.retry.initial_backoff = 0ms;
    p.retry.jitter = backoff_jitter::none;
    p.breaker_enabled = false;    // faults are injected on purpose; the breaker is tested above
    p.bulkhead.max_queue = 4096;  // 16 callers x 64 outstanding: room for all of them
    host h(host_options{testkit_config(dir.path(), 2), {}, p, nullptr, nullptr, nullptr, nullptr});
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());

    constexpr int callers = 16;
    // 200,000 calls; the sanitizer presets set TOOLHOST_SOAK_CALLS lower, as their
    // instrumentation makes each call 10-50 times slower.
    const char* env = std::getenv("TOOLHOST_SOAK_CALLS");
    const int per_caller = (env ? std::max(16, std::atoi(env)) : 200000) / callers;
    std::atomic<int64_t> ok{0}, failed{0}, results{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < callers; ++t) {
        threads.emplace_back([&, t] {
            std::atomic<int> outstanding{0};
            for (int i = 0; i < per_caller; ++i) {
                const int n = t * per_caller + i;
                json::object args;
                std::string op = "echo";
                if (n % 20 == 0) {  // 5% faults
                    op = "fail";
                    args = {
                        {"code", "UNAVAILABLE"}, {"message", "injected"}, {"succeed_on_attempt", n % 40 == 0 ? 2 : 99}};
                }
                while (outstanding.load() > 64) std::this_thread::yield();
                outstanding.fetch_add(1);
                h.async_call("testkit_mt", op, std::move(args), {}, [&](call_result r) {
                    (r ? ok : failed).fetch_add(1);
                    results.fetch_add(1);
                    outstanding.fetch_sub(1);
                });
            }
            while (outstanding.load() != 0) std::this_thread::yield();
        });
    }
    for (auto& th : threads) th.join();
    BOOST_TEST(results.load() == int64_t(callers) * per_caller);
    BOOST_TEST(ok.load() + failed.load() == results.load());
    // At most the 5% that were made to keep failing fail (a retry may be refused by the budget).
    // Every 20th call fails; half of those succeed on their retry unless the budget refused it.
    const int64_t total = int64_t(callers) * per_caller;
    BOOST_TEST(failed.load() <= (total + 19) / 20);
    BOOST_TEST(failed.load() >= total / 40);
    BOOST_TEST(h.in_flight() == 0);
    // The counters add up: every call is counted once, under its final status.
    auto m = h.metrics().to_json();
    int64_t counted = 0;
    for (const auto& sample : m.at("toolhost_tool_calls_total").at("samples").as_array())
        counted += sample.at("value").to_number<int64_t>();
    BOOST_TEST(counted == results.load());
}

// ------------------------------------------------------------------------------ inline path

BOOST_AUTO_TEST_CASE(inline_call_runs_the_pipeline_on_the_calling_thread) {
    fixture fx;
    fx.start();
    auto target = fx.h->resolve("testkit_mt", "context");
    BOOST_TEST_REQUIRE(target.has_value());
    call_options o;
    o.request_id = "inline-1";
    auto r = fx.h->call_inline(*target, json::object{}, o);
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
    auto v = json::parse(*r);
    BOOST_TEST(v.at("request_id") == "inline-1");
    BOOST_TEST(v.at("has_deadline").as_bool());  // the policy's 60 s total, 10 s per attempt
    BOOST_TEST(v.at("remaining_ms").as_int64() == 10000);

    // Validation, unknown names and a non-object are errors before the plugin runs.
    auto bad = fx.h->call_inline("testkit_mt", "sleep", json::object{{"ms", "soon"}});
    BOOST_TEST_REQUIRE(!bad.has_value());
    BOOST_TEST((bad.error().code == status_code::invalid_argument));
    BOOST_TEST(contains(bad.error().message, "/ms"), bad.error().message);
    BOOST_TEST((fx.h->call_inline("nosuch", "x", json::object{}).error().code == status_code::not_found));
    BOOST_TEST((fx.h->call_inline("testkit_mt", "nosuch", json::object{}).error().code == status_code::not_found));
    BOOST_TEST((fx.h->call_inline("testkit_mt", "echo", json::array{}).error().code == status_code::invalid_argument));

    // Large arguments do not fit the stack buffer and still arrive whole.
    std::string big(20000, 'x');
    auto echoed = fx.h->call_inline("testkit_mt", "echo", json::object{{"big", big}});
    BOOST_TEST_REQUIRE(echoed.has_value());
    BOOST_TEST(json::parse(*echoed).at("big").as_string() == big);

    // Metrics count inline calls like any other.
    auto text = fx.h->metrics().render_prometheus();
    BOOST_TEST(contains(text, R"(toolhost_tool_calls_total{tool="testkit_mt",operation="context",status="OK"} 1)"),
               text);

    // A resolved operation outlives the tool's run: afterwards it answers UNAVAILABLE.
    fx.h->shutdown();
    auto late = fx.h->call_inline(*target, json::object{});
    BOOST_TEST_REQUIRE(!late.has_value());
    BOOST_TEST((late.error().code == status_code::unavailable));
}

BOOST_AUTO_TEST_CASE(inline_call_retries_on_the_virtual_clock_and_trips_the_breaker) {
    auto p = fixture::quick_policy();
    p.breaker.consecutive_failures = 3;
    fixture fx(p);
    fx.start();
    event_log events(*fx.h);
    // Retries wait on the host's timers: drive them from here while the call blocks its thread.
    auto f = std::async(std::launch::async, [&] {
        return fx.h->call_inline(
            "testkit_mt", "fail",
            json::object{{"code", "UNAVAILABLE"}, {"message", "flaky"}, {"succeed_on_attempt", 3}});
    });
    auto r = fx.drive(f);
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
    BOOST_TEST(json::parse(*r).at("attempt").as_int64() == 3);
    BOOST_TEST(events.of(host_event_kind::retry).size() == 2u);
    // Three failures in a row (the success reset the count): the breaker opens and rejects.
    for (int i = 0; i < 3; ++i) {
        auto fail =
            fx.h->call_inline("testkit_mt", "fail_unsafe", json::object{{"code", "UNAVAILABLE"}, {"message", "down"}});
        BOOST_TEST(fail.error().message == "down");
    }
    auto rejected = fx.h->call_inline("testkit_mt", "echo", json::object{});
    BOOST_TEST_REQUIRE(!rejected.has_value());
    BOOST_TEST(contains(rejected.error().message, "circuit breaker 'testkit_mt' is open"), rejected.error().message);
}

BOOST_AUTO_TEST_CASE(inline_call_of_a_serialized_tool_goes_through_its_strand) {
    fixture fx;
    fx.start();
    auto r = fx.h->call_inline("testkit", "echo", json::object{{"a", 1}});
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
    BOOST_TEST(json::parse(*r).at("a").as_int64() == 1);
}

// An inline call counts itself in its thread's shard, without a locked instruction; removing
// the tool must still wait for it to leave the plugin, and in_flight() must show it meanwhile.
BOOST_AUTO_TEST_CASE(unregistering_waits_for_a_running_inline_call) {
    fixture fx;
    fx.start();
    std::promise<void> inside;
    std::promise<void> go_on;
    std::shared_future<void> go = go_on.get_future().share();
    call_options o;
    // Called by the plugin, inside its call, on the calling thread: holds the call there.
    o.on_progress = [&inside, go](double, double, std::string_view) {
        inside.set_value();
        go.wait();
    };
    std::promise<call_result> answered;
    std::thread caller([&] {
        answered.set_value(fx.h->call_inline("testkit_mt", "progress", json::object{{"steps", 1}}, o));
    });
    inside.get_future().wait();
    BOOST_TEST(fx.h->in_flight() == 1);

    std::atomic<bool> removed{false};
    std::atomic<bool> returned{false};
    std::thread remover([&] {
        removed.store(fx.h->unregister("testkit_mt"));
        returned.store(true);
    });
    // The plugin cannot return before go_on, so neither can the removal, however long we look.
    std::this_thread::sleep_for(100ms);
    BOOST_TEST(!returned.load());
    go_on.set_value();
    remover.join();
    caller.join();
    BOOST_TEST(removed.load());
    auto r = answered.get_future().get();
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
    BOOST_TEST(json::parse(*r).at("steps").as_int64() == 1);
    BOOST_TEST(fx.h->in_flight() == 0);
}

// --------------------------------------------------------------------- a tool calls a tool

BOOST_AUTO_TEST_CASE(a_tool_calls_another_through_the_host) {
    fixture fx;
    fx.start();
    call_options o;
    o.request_id = "outer";
    o.session_id = "s1";
    auto f =
        fx.h->async_call("testkit", "call_tool",
                         json::object{{"tool", "testkit_mt"}, {"operation", "context"}, {"arguments", json::object{}}},
                         o, boost::asio::use_future);
    auto r = fx.drive(f);
    BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
    auto v = json::parse(*r);
    BOOST_TEST_REQUIRE(v.at("status").as_int64() == 0, *r);
    // The nested call inherits the ids and never outlives the outer attempt's deadline.
    BOOST_TEST(v.at("result").at("request_id") == "outer");
    BOOST_TEST(v.at("result").at("session_id") == "s1");
    BOOST_TEST(v.at("result").at("remaining_ms").as_int64() <= 10000);

    // Its arguments are validated like anyone's.
    f = fx.h->async_call(
        "testkit", "call_tool",
        json::object{{"tool", "testkit_mt"}, {"operation", "sleep"}, {"arguments", json::object{{"ms", "x"}}}}, {},
        boost::asio::use_future);
    v = json::parse(*fx.drive(f));
    BOOST_TEST(v.at("status").as_int64() == static_cast<int>(status_code::invalid_argument));
    BOOST_TEST(contains(std::string(v.at("error").as_string()), "/ms"));

    // Errors of the nested call come back as values; a tool cannot call itself.
    f = fx.h->async_call("testkit", "call_tool", json::object{{"tool", "nosuch"}, {"operation", "x"}}, {},
                         boost::asio::use_future);
    v = json::parse(*fx.drive(f));
    BOOST_TEST(v.at("status").as_int64() == static_cast<int>(status_code::not_found));
    f = fx.h->async_call("testkit_mt", "call_tool", json::object{{"tool", "testkit_mt"}, {"operation", "echo"}}, {},
                         boost::asio::use_future);
    v = json::parse(*fx.drive(f));
    BOOST_TEST(v.at("status").as_int64() == static_cast<int>(status_code::failed_precondition));

    // A serialized tool already serving the chain cannot be called again: it would wait for itself.
    f = fx.h->async_call("testkit", "call_tool",
                         json::object{{"tool", "testkit_mt"},
                                      {"operation", "call_tool"},
                                      {"arguments", json::object{{"tool", "testkit"}, {"operation", "echo"}}}},
                         {}, boost::asio::use_future);
    v = json::parse(*fx.drive(f));
    BOOST_TEST_REQUIRE(v.at("status").as_int64() == 0, json::serialize(v));
    BOOST_TEST(v.at("result").at("status").as_int64() == static_cast<int>(status_code::failed_precondition));
    BOOST_TEST(contains(std::string(v.at("result").at("error").as_string()), "wait for itself"));
}

namespace {
// An in-process tool that calls `next` through the host's nested caller, forever.
class bouncing_instance final : public tool_instance {
public:
    explicit bouncing_instance(std::string next) : next_(std::move(next)) {}
    void_result initialize(std::string_view, const fs::path&) override { return {}; }
    call_result invoke(const invocation& inv) noexcept override {
        if (inv.nested == nullptr) return make_tool_error(status_code::unimplemented, "no nested caller");
        return inv.nested->call_nested(inv, next_, "run", "{}");
    }
    void cleanup() noexcept override {}

private:
    std::string next_;
};

std::shared_ptr<tool_factory> bouncing_factory(const std::string& name, const std::string& next) {
    tool_descriptor d;
    d.name = name;
    d.version = "1.0";
    d.thread_safe = true;
    d.operations.push_back(
        operation_descriptor{"run", "", *json_schema::compile_text(R"({"type":"object"})"), std::nullopt, 0});
    return make_tool_factory(std::move(d), [next] { return std::make_unique<bouncing_instance>(next); });
}
}  // namespace

BOOST_AUTO_TEST_CASE(cycles_of_nested_calls_stop_at_the_nesting_limit) {
    temp_dir dir;
    auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
    c.data_dir = dir / "var";
    c.threads = 2;
    c.log_level = "error";
    host h(std::move(c));
    BOOST_TEST_REQUIRE(h.register_factory(bouncing_factory("ping", "pong")).has_value());
    BOOST_TEST_REQUIRE(h.register_factory(bouncing_factory("pong", "ping")).has_value());
    BOOST_TEST_REQUIRE(h.start({}).ok());
    auto r = h.call("ping", "run", json::object{});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::failed_precondition));
    BOOST_TEST(contains(r.error().message, "deeper than 8 levels"), r.error().message);
    // Every level was counted, and every level finished (the outer plugin call's own count
    // drops just after its result is delivered).
    auto text = h.metrics().render_prometheus();
    BOOST_TEST(
        contains(text, R"(toolhost_tool_calls_total{tool="pong",operation="run",status="FAILED_PRECONDITION"} 4)"),
        text);
    while (h.in_flight() != 0) std::this_thread::yield();
}

BOOST_AUTO_TEST_CASE(per_operation_breakers_keep_healthy_operations_open) {
    auto p = fixture::quick_policy();
    p.retry.max_attempts = 1;
    p.breaker.consecutive_failures = 2;
    p.breaker_per_operation = true;
    fixture fx(p);
    fx.start();
    event_log events(*fx.h);
    for (int i = 0; i < 2; ++i) {
        auto f = fx.call("testkit", "fail_unsafe", {{"code", "UNAVAILABLE"}, {"message", "write path down"}});
        BOOST_TEST(!fx.drive(f).has_value());
    }
    // fail_unsafe's breaker is open; echo's is not.
    auto f = fx.call("testkit", "fail_unsafe", {{"code", "UNAVAILABLE"}, {"message", "x"}});
    auto r = fx.drive(f);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(contains(r.error().message, "circuit breaker 'testkit.fail_unsafe' is open"), r.error().message);
    f = fx.call("testkit", "echo");
    BOOST_TEST(fx.drive(f).has_value());
    BOOST_TEST((fx.h->circuit_breaker_state("testkit", "fail_unsafe")->state == breaker_state::open));
    BOOST_TEST((fx.h->circuit_breaker_state("testkit", "echo")->state == breaker_state::closed));
    auto transitions = events.of(host_event_kind::breaker_transition);
    BOOST_TEST_REQUIRE(transitions.size() == 1u);
    BOOST_TEST(transitions[0].operation == "fail_unsafe");
    auto text = fx.h->metrics().render_prometheus();
    BOOST_TEST(contains(text, R"(toolhost_operation_circuit_breaker_state{tool="testkit",operation="fail_unsafe"} 1)"),
               text);
    // Resetting one operation's breaker, then all of the tool's.
    BOOST_TEST(fx.h->reset_circuit_breaker("testkit", "fail_unsafe"));
    BOOST_TEST((fx.h->circuit_breaker_state("testkit", "fail_unsafe")->state == breaker_state::closed));
    BOOST_TEST(fx.h->force_open_circuit_breaker("testkit"));
    BOOST_TEST((fx.h->circuit_breaker_state("testkit", "echo")->state == breaker_state::forced_open));
    BOOST_TEST(fx.h->reset_circuit_breaker("testkit"));
    BOOST_TEST((fx.h->circuit_breaker_state("testkit", "echo")->state == breaker_state::closed));
    BOOST_TEST(!fx.h->reset_circuit_breaker("testkit", "nosuch"));
    // The list names each breaker by its operation, and only the tool with per-operation
    // breakers has them.
    auto all = fx.h->circuit_breakers();
    std::size_t testkit_breakers = 0;
    for (const auto& b : all) {
        if (b.tool != "testkit") continue;
        ++testkit_breakers;
        BOOST_TEST(!b.operation.empty());
        BOOST_TEST((b.state.state == breaker_state::closed));
    }
    BOOST_TEST(testkit_breakers == fx.h->find("testkit")->descriptor().operations.size());
}
