#define BOOST_TEST_MODULE circuit_breaker
#include <boost/test/unit_test.hpp>

#include <toolhost/circuit_breaker.hpp>

#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using toolhost::breaker_options;
using toolhost::breaker_state;
using toolhost::breaker_transition;
using toolhost::circuit_breaker;
using toolhost::manual_clock;
using toolhost::status_code;

namespace {

/// A breaker named "rag" on a manual clock.
struct fixture {
    explicit fixture(breaker_options o = {}) : breaker("rag", std::move(o), clk) {}

    circuit_breaker::admission call(status_code code) {
        auto adm = breaker.try_acquire();
        if (adm.allowed) breaker.on_result(adm, code);
        return adm;
    }
    void fail(int n = 1) {
        for (int i = 0; i < n; ++i) BOOST_TEST_REQUIRE(call(status_code::unavailable).allowed);
    }
    void succeed(int n = 1) {
        for (int i = 0; i < n; ++i) BOOST_TEST_REQUIRE(call(status_code::ok).allowed);
    }

    manual_clock clk;
    circuit_breaker breaker;
};

breaker_options without_consecutive() {
    breaker_options o;
    o.consecutive_failures = 0;
    return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(basics)

BOOST_AUTO_TEST_CASE(state_names) {
    BOOST_TEST(toolhost::breaker_state_name(breaker_state::closed) == "closed");
    BOOST_TEST(toolhost::breaker_state_name(breaker_state::open) == "open");
    BOOST_TEST(toolhost::breaker_state_name(breaker_state::half_open) == "half_open");
    BOOST_TEST(toolhost::breaker_state_name(breaker_state::forced_open) == "forced_open");
    BOOST_TEST(toolhost::breaker_state_name(breaker_state::disabled) == "disabled");
    BOOST_TEST(toolhost::breaker_state_name(static_cast<breaker_state>(42)) == "unknown");
}

BOOST_AUTO_TEST_CASE(defaults_are_those_of_the_design) {
    breaker_options o;
    BOOST_TEST(o.consecutive_failures == 5u);
    BOOST_TEST(o.failure_rate == 0.5);
    BOOST_TEST(o.minimum_calls == 20u);
    BOOST_TEST((o.window == 30s));
    BOOST_TEST((o.open_duration == 30s));
    BOOST_TEST(o.open_multiplier == 2.0);
    BOOST_TEST((o.max_open_duration == 300s));
    fixture f;
    BOOST_TEST(f.breaker.name() == "rag");
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    auto s = f.breaker.get_snapshot();
    BOOST_TEST((s.state == breaker_state::closed));
    BOOST_TEST(s.calls == 0u);
    BOOST_TEST(s.transitions == 0u);
    BOOST_TEST((s.current_open_duration == 30s));
}

BOOST_AUTO_TEST_CASE(invalid_options_throw) {
    manual_clock clk;
    auto make = [&](auto mutate) {
        breaker_options o;
        mutate(o);
        circuit_breaker b("x", o, clk);
    };
    BOOST_CHECK_THROW(make([](breaker_options& o) { o.failure_rate = 0.0; }), std::invalid_argument);
    BOOST_CHECK_THROW(make([](breaker_options& o) { o.failure_rate = 1.5; }), std::invalid_argument);
    BOOST_CHECK_THROW(make([](breaker_options& o) { o.open_multiplier = 0.5; }), std::invalid_argument);
    BOOST_CHECK_THROW(make([](breaker_options& o) { o.window = 0ms; }), std::invalid_argument);
    BOOST_CHECK_THROW(make([](breaker_options& o) { o.open_duration = -1ms; }), std::invalid_argument);
    BOOST_CHECK_THROW(make([](breaker_options& o) { o.probe_timeout = 0ms; }), std::invalid_argument);
    BOOST_CHECK_THROW(make([](breaker_options& o) { o.max_open_duration = 10s; }), std::invalid_argument);
    BOOST_CHECK_THROW(make([](breaker_options& o) { o.max_open_duration = std::chrono::hours(24 * 400); }),
                      std::invalid_argument);
    BOOST_CHECK_NO_THROW(make([](breaker_options& o) { o.failure_rate = 1.0; }));
}

BOOST_AUTO_TEST_CASE(default_failure_codes) {
    fixture f;
    for (auto c : {status_code::unavailable, status_code::deadline_exceeded, status_code::internal,
                   status_code::resource_exhausted}) {
        BOOST_TEST(f.breaker.counts_as_failure(c), toolhost::status_name(c));
    }
    for (auto c : {status_code::ok, status_code::invalid_argument, status_code::cancelled, status_code::not_found,
                   status_code::unknown, status_code::permission_denied, status_code::failed_precondition}) {
        BOOST_TEST(!f.breaker.counts_as_failure(c), toolhost::status_name(c));
    }
}

BOOST_AUTO_TEST_CASE(invalid_argument_and_cancelled_are_never_failures) {
    breaker_options o;
    o.failure_codes = {status_code::invalid_argument, status_code::cancelled, status_code::ok, status_code::not_found};
    fixture f(o);
    BOOST_TEST(!f.breaker.counts_as_failure(status_code::invalid_argument));
    BOOST_TEST(!f.breaker.counts_as_failure(status_code::cancelled));
    BOOST_TEST(!f.breaker.counts_as_failure(status_code::ok));
    BOOST_TEST(f.breaker.counts_as_failure(status_code::not_found));
    BOOST_TEST(!f.breaker.counts_as_failure(status_code::unavailable));
    for (int i = 0; i < 50; ++i) {
        f.call(status_code::invalid_argument);
        f.call(status_code::cancelled);
    }
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    for (int i = 0; i < 5; ++i) f.call(status_code::not_found);
    BOOST_TEST((f.breaker.state() == breaker_state::open));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(closed)

BOOST_AUTO_TEST_CASE(consecutive_failures_trip_and_the_tripping_call_was_admitted) {
    fixture f;
    // Five calls in flight at once, all admitted; the fifth failure trips the breaker.
    std::vector<circuit_breaker::admission> inflight;
    for (int i = 0; i < 5; ++i) inflight.push_back(f.breaker.try_acquire());
    for (auto& a : inflight) BOOST_TEST_REQUIRE(a.allowed);
    for (int i = 0; i < 4; ++i) {
        f.breaker.on_result(inflight[i], status_code::unavailable);
        BOOST_TEST((f.breaker.state() == breaker_state::closed));
    }
    BOOST_TEST(f.breaker.get_snapshot().consecutive_failures == 4u);
    f.breaker.on_result(inflight[4], status_code::unavailable);  // the caller returns its own error
    BOOST_TEST((f.breaker.state() == breaker_state::open));
    auto s = f.breaker.get_snapshot();
    BOOST_TEST((s.opened_at == f.clk.now()));
    BOOST_TEST((s.next_probe_at == f.clk.now() + 30s));
    BOOST_TEST(s.transitions == 1u);
    BOOST_TEST(!f.breaker.try_acquire().allowed);
}

BOOST_AUTO_TEST_CASE(consecutive_zero_disables_that_trigger) {
    fixture f(without_consecutive());
    f.fail(19);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    f.fail(1);  // now the rate trigger: 20 of 20
    BOOST_TEST((f.breaker.state() == breaker_state::open));
}

BOOST_AUTO_TEST_CASE(non_failures_end_a_run_and_count_as_calls) {
    breaker_options o;
    o.minimum_calls = 100;  // keep the rate trigger out of this test
    fixture f(o);
    for (auto code : {status_code::ok, status_code::invalid_argument, status_code::not_found, status_code::cancelled}) {
        f.fail(4);
        BOOST_TEST(f.breaker.get_snapshot().consecutive_failures == 4u);
        f.call(code);
        BOOST_TEST(f.breaker.get_snapshot().consecutive_failures == 0u, toolhost::status_name(code));
    }
    auto s = f.breaker.get_snapshot();
    BOOST_TEST((s.state == breaker_state::closed));
    BOOST_TEST(s.calls == 20u);
    BOOST_TEST(s.failures == 16u);
    BOOST_TEST(s.failure_rate == 0.8);
}

BOOST_AUTO_TEST_CASE(rate_needs_minimum_calls) {
    fixture f;
    // S F S F ...: never 2 failures in a row; 19 calls with 9 failures.
    for (int i = 0; i < 9; ++i) {
        f.succeed();
        f.fail();
    }
    f.succeed();
    BOOST_TEST(f.breaker.get_snapshot().calls == 19u);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    f.fail();  // 20th call, 10 of 20 failed = 50% >= 50%: trips
    BOOST_TEST((f.breaker.state() == breaker_state::open));
}

BOOST_AUTO_TEST_CASE(rate_below_threshold_does_not_trip) {
    fixture f;
    for (int i = 0; i < 40; ++i) {
        f.succeed(2);
        f.fail(1);  // 33%
    }
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    BOOST_TEST(f.breaker.get_snapshot().calls == 120u);
}

BOOST_AUTO_TEST_CASE(rate_is_evaluated_after_successes_too) {
    fixture f;
    for (int i = 0; i < 10; ++i) {
        f.fail();
        f.succeed();
    }
    // F S F S ... F: on the 20th call, a success, the window holds 10 of 20 failures.
    BOOST_TEST((f.breaker.state() == breaker_state::open));
}

BOOST_AUTO_TEST_CASE(failures_age_out_of_the_window) {
    fixture f(without_consecutive());
    f.fail(19);
    f.clk.advance(30s);  // a whole window later the 19 failures are gone
    f.fail(1);
    auto s = f.breaker.get_snapshot();
    BOOST_TEST(s.calls == 1u);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    f.succeed(19);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    BOOST_TEST(f.breaker.get_snapshot().calls == 20u);
}

BOOST_AUTO_TEST_CASE(the_window_spans_at_least_nine_tenths) {
    fixture f(without_consecutive());
    f.fail(10);
    f.clk.advance(26s);  // within 0.9 * 30 s: still counted
    f.fail(9);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    BOOST_TEST(f.breaker.get_snapshot().calls == 19u);
    f.fail(1);
    BOOST_TEST((f.breaker.state() == breaker_state::open));
}

BOOST_AUTO_TEST_CASE(minimum_calls_zero_disables_the_rate_trigger) {
    breaker_options o = without_consecutive();
    o.minimum_calls = 0;
    fixture f(o);
    f.fail(100);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(results_from_before_the_trip_are_ignored) {
    fixture f;
    auto early = f.breaker.try_acquire();
    f.fail(5);
    BOOST_TEST_REQUIRE((f.breaker.state() == breaker_state::open));
    const auto before = f.breaker.get_snapshot();
    f.breaker.on_result(early, status_code::ok);
    f.breaker.on_result(early, status_code::unavailable);
    f.breaker.on_abandoned(early);
    const auto after = f.breaker.get_snapshot();
    BOOST_TEST((after.state == breaker_state::open));
    BOOST_TEST(after.calls == before.calls);
    BOOST_TEST(after.consecutive_failures == before.consecutive_failures);
    BOOST_TEST(after.transitions == before.transitions);
}

BOOST_AUTO_TEST_CASE(abandoned_calls_count_as_deadline_exceeded) {
    fixture f;
    for (int i = 0; i < 5; ++i) {
        auto a = f.breaker.try_acquire();
        BOOST_TEST_REQUIRE(a.allowed);
        f.breaker.on_abandoned(a);
    }
    BOOST_TEST((f.breaker.state() == breaker_state::open));
}

BOOST_AUTO_TEST_CASE(abandoned_calls_follow_failure_codes) {
    breaker_options o;
    o.failure_codes = {status_code::unavailable};
    fixture f(o);
    for (int i = 0; i < 10; ++i) f.breaker.on_abandoned(f.breaker.try_acquire());
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    BOOST_TEST(f.breaker.get_snapshot().calls == 10u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(open_and_half_open)

BOOST_AUTO_TEST_CASE(rejects_until_next_probe_then_admits_one_probe) {
    fixture f;
    f.fail(5);
    const auto probe_at = f.clk.now() + 30s;
    for (auto step : {0ms, 1ms, 10000ms, 19998ms}) {
        f.clk.advance(step);
        auto a = f.breaker.try_acquire();
        BOOST_TEST(!a.allowed);
        BOOST_TEST(!a.probe);
        BOOST_TEST((a.state == breaker_state::open));
        BOOST_TEST((a.retry_at == probe_at));
    }
    f.clk.advance(1ms);
    BOOST_TEST((f.clk.now() == probe_at));
    auto probe = f.breaker.try_acquire();
    BOOST_TEST(probe.allowed);
    BOOST_TEST(probe.probe);
    BOOST_TEST((probe.state == breaker_state::half_open));
    BOOST_TEST((f.breaker.state() == breaker_state::half_open));
    for (int i = 0; i < 3; ++i) {
        auto other = f.breaker.try_acquire();
        BOOST_TEST(!other.allowed);
        BOOST_TEST((other.state == breaker_state::half_open));
        BOOST_TEST((other.retry_at == probe_at + 60s));  // when the probe times out
    }
}

BOOST_AUTO_TEST_CASE(probe_success_closes_and_clears) {
    fixture f;
    f.fail(5);
    f.clk.advance(30s);
    auto probe = f.breaker.try_acquire();
    BOOST_TEST_REQUIRE(probe.probe);
    f.breaker.on_result(probe, status_code::ok);
    auto s = f.breaker.get_snapshot();
    BOOST_TEST((s.state == breaker_state::closed));
    BOOST_TEST(s.calls == 0u);
    BOOST_TEST(s.failures == 0u);
    BOOST_TEST(s.consecutive_failures == 0u);
    BOOST_TEST((s.current_open_duration == 30s));
    BOOST_TEST(f.breaker.try_acquire().allowed);
    f.fail(4);  // counting starts afresh
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(non_failure_probe_result_closes) {
    fixture f;
    f.fail(5);
    f.clk.advance(30s);
    auto probe = f.breaker.try_acquire();
    f.breaker.on_result(probe, status_code::invalid_argument);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(failed_probes_double_the_open_time_up_to_the_cap) {
    fixture f;
    f.fail(5);
    for (auto expected : {60s, 120s, 240s, 300s, 300s}) {
        const auto s = f.breaker.get_snapshot();
        f.clk.set(s.next_probe_at);
        auto probe = f.breaker.try_acquire();
        BOOST_TEST_REQUIRE(probe.probe);
        f.breaker.on_result(probe, status_code::internal);
        const auto t = f.breaker.get_snapshot();
        BOOST_TEST((t.state == breaker_state::open));
        BOOST_TEST((t.current_open_duration == expected));
        BOOST_TEST((t.next_probe_at == f.clk.now() + expected));
        auto rejected = f.breaker.try_acquire();
        BOOST_TEST(!rejected.allowed);
        BOOST_TEST((rejected.retry_at == f.clk.now() + expected));
    }
    // A successful probe brings the open time back to the initial 30 s.
    f.clk.advance(300s);
    f.breaker.on_result(f.breaker.try_acquire(), status_code::ok);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    f.fail(5);
    BOOST_TEST((f.breaker.get_snapshot().next_probe_at == f.clk.now() + 30s));
}

BOOST_AUTO_TEST_CASE(abandoned_probe_reopens) {
    fixture f;
    f.fail(5);
    f.clk.advance(30s);
    auto probe = f.breaker.try_acquire();
    f.breaker.on_abandoned(probe);
    auto s = f.breaker.get_snapshot();
    BOOST_TEST((s.state == breaker_state::open));
    BOOST_TEST((s.current_open_duration == 60s));
    f.breaker.on_result(probe, status_code::ok);  // the plugin call returns later: stale
    BOOST_TEST((f.breaker.state() == breaker_state::open));
}

BOOST_AUTO_TEST_CASE(a_probe_that_never_finishes_frees_the_gate_after_the_timeout) {
    fixture f;
    f.fail(5);
    f.clk.advance(30s);
    auto first = f.breaker.try_acquire();
    BOOST_TEST_REQUIRE(first.probe);
    f.clk.advance(59999ms);
    BOOST_TEST(!f.breaker.try_acquire().allowed);
    f.clk.advance(1ms);
    auto second = f.breaker.try_acquire();
    BOOST_TEST_REQUIRE(second.probe);
    BOOST_TEST(second.generation != first.generation);
    BOOST_TEST(!f.breaker.try_acquire().allowed);  // still one at a time

    f.breaker.on_result(first, status_code::unavailable);  // the old probe's late result: ignored
    BOOST_TEST((f.breaker.state() == breaker_state::half_open));
    BOOST_TEST((f.breaker.get_snapshot().current_open_duration == 30s));
    f.breaker.on_result(second, status_code::ok);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(a_late_probe_result_counts_while_no_other_probe_started) {
    fixture f;
    f.fail(5);
    f.clk.advance(30s);
    auto probe = f.breaker.try_acquire();
    f.clk.advance(90s);  // past the probe timeout, but nobody asked for another probe
    f.breaker.on_result(probe, status_code::ok);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(a_released_probe_frees_the_gate_at_once) {
    fixture f;
    f.fail(5);
    f.clk.advance(30s);
    auto probe = f.breaker.try_acquire();
    BOOST_TEST_REQUIRE(probe.probe);
    BOOST_TEST(!f.breaker.try_acquire().allowed);
    f.breaker.release(probe);  // it never ran: nothing recorded, the next caller probes
    BOOST_TEST((f.breaker.state() == breaker_state::half_open));
    BOOST_TEST((f.breaker.get_snapshot().current_open_duration == 30s));
    auto next = f.breaker.try_acquire();
    BOOST_TEST_REQUIRE(next.probe);
    f.breaker.on_result(probe, status_code::unavailable);  // stale
    BOOST_TEST((f.breaker.state() == breaker_state::half_open));
    f.breaker.on_result(next, status_code::ok);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
}

BOOST_AUTO_TEST_CASE(releasing_a_closed_admission_records_nothing) {
    fixture f;
    f.fail(4);
    auto a = f.breaker.try_acquire();
    f.breaker.release(a);
    f.breaker.release(f.breaker.try_acquire());
    auto s = f.breaker.get_snapshot();
    BOOST_TEST(s.calls == 4u);
    BOOST_TEST(s.consecutive_failures == 4u);
    f.fail(1);
    BOOST_TEST((f.breaker.state() == breaker_state::open));
}

BOOST_AUTO_TEST_CASE(rejection_error_names_the_breaker_and_the_next_probe) {
    fixture f;
    f.fail(5);
    f.clk.advance(17700ms);
    auto a = f.breaker.try_acquire();
    BOOST_TEST_REQUIRE(!a.allowed);
    auto e = f.breaker.rejection_error(a);
    BOOST_TEST((e.code == status_code::unavailable));
    BOOST_TEST(e.message == "circuit breaker 'rag' is open after 5 consecutive failures; next probe in 12.3 s");
    BOOST_TEST_REQUIRE(e.retry_after.has_value());
    BOOST_TEST(e.retry_after->count() == 12300);

    f.clk.advance(12300ms);
    auto probe = f.breaker.try_acquire();
    BOOST_TEST_REQUIRE(probe.probe);
    f.clk.advance(15s);
    auto during_probe = f.breaker.try_acquire();
    BOOST_TEST(f.breaker.rejection_error(during_probe).message ==
               "circuit breaker 'rag' is half-open and its probe call is still running (opened after 5 "
               "consecutive failures); next probe in 45.0 s at the latest");
    f.breaker.on_result(probe, status_code::deadline_exceeded);
    BOOST_TEST(f.breaker.rejection_error(f.breaker.try_acquire()).message ==
               "circuit breaker 'rag' is open after a failed probe (DEADLINE_EXCEEDED); next probe in 60.0 s");
}

BOOST_AUTO_TEST_CASE(rejection_error_after_a_rate_trip) {
    fixture f(without_consecutive());
    f.succeed(8);
    f.fail(12);
    auto e = f.breaker.rejection_error(f.breaker.try_acquire());
    BOOST_TEST(
        e.message ==
        "circuit breaker 'rag' is open after a failure rate of 60% (12 of 20 calls in 30 s); next probe in 30.0 s");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(manual_control)

BOOST_AUTO_TEST_CASE(force_open_rejects_everything_until_reset) {
    fixture f;
    f.breaker.force_open();
    for (int i = 0; i < 3; ++i) {
        auto a = f.breaker.try_acquire();
        BOOST_TEST(!a.allowed);
        BOOST_TEST((a.state == breaker_state::forced_open));
        BOOST_TEST((a.retry_at == toolhost::clock::time_point::max()));
        f.clk.advance(std::chrono::hours(24));
    }
    auto e = f.breaker.rejection_error(f.breaker.try_acquire());
    BOOST_TEST((e.code == status_code::unavailable));
    BOOST_TEST(e.message == "circuit breaker 'rag' is forced open; reset it to allow calls");
    BOOST_TEST(!e.retry_after.has_value());
    f.breaker.reset();
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
    BOOST_TEST(f.breaker.try_acquire().allowed);
}

BOOST_AUTO_TEST_CASE(force_open_during_a_probe_ignores_its_result) {
    fixture f;
    f.fail(5);
    f.clk.advance(30s);
    auto probe = f.breaker.try_acquire();
    BOOST_TEST_REQUIRE(probe.probe);
    f.breaker.force_open();
    f.breaker.on_result(probe, status_code::ok);
    BOOST_TEST((f.breaker.state() == breaker_state::forced_open));
}

BOOST_AUTO_TEST_CASE(disabled_admits_everything_and_records_nothing) {
    fixture f;
    f.fail(3);
    f.breaker.disable();
    for (int i = 0; i < 100; ++i) {
        auto a = f.breaker.try_acquire();
        BOOST_TEST_REQUIRE(a.allowed);
        BOOST_TEST(!a.probe);
        BOOST_TEST((a.state == breaker_state::disabled));
        f.breaker.on_result(a, status_code::unavailable);
    }
    BOOST_TEST((f.breaker.state() == breaker_state::disabled));
    f.breaker.reset();
    auto s = f.breaker.get_snapshot();
    BOOST_TEST((s.state == breaker_state::closed));
    BOOST_TEST(s.calls == 0u);
    BOOST_TEST(s.consecutive_failures == 0u);
}

BOOST_AUTO_TEST_CASE(reset_from_every_state) {
    for (int from = 0; from < 5; ++from) {
        fixture f;
        f.fail(5);
        f.clk.advance(30s);
        auto probe = f.breaker.try_acquire();                  // half_open
        f.breaker.on_result(probe, status_code::unavailable);  // open, 60 s
        if (from == 0) f.breaker.reset();
        if (from == 1) {
            f.clk.advance(60s);
            BOOST_TEST_REQUIRE(f.breaker.try_acquire().probe);
        }
        if (from == 2) f.breaker.force_open();
        if (from == 3) f.breaker.disable();
        f.breaker.reset();
        auto s = f.breaker.get_snapshot();
        BOOST_TEST((s.state == breaker_state::closed), from);
        BOOST_TEST((s.current_open_duration == 30s), from);
        BOOST_TEST(s.consecutive_failures == 0u);
        BOOST_TEST(f.breaker.try_acquire().allowed);
        f.fail(5);
        BOOST_TEST((f.breaker.get_snapshot().next_probe_at == f.clk.now() + 30s), from);
    }
}

BOOST_AUTO_TEST_CASE(results_from_before_a_reset_are_ignored) {
    fixture f;
    auto early = f.breaker.try_acquire();
    f.fail(4);
    f.breaker.reset();
    f.breaker.on_result(early, status_code::unavailable);
    BOOST_TEST(f.breaker.get_snapshot().calls == 0u);
    BOOST_TEST(f.breaker.get_snapshot().consecutive_failures == 0u);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(transitions)

BOOST_AUTO_TEST_CASE(every_state_change_is_reported_in_order) {
    fixture f;
    std::vector<breaker_transition> seen;
    f.breaker.on_transition([&](const breaker_transition& t) {
        // Outside the lock: the breaker can be inspected from the callback.
        BOOST_TEST((f.breaker.get_snapshot().state == f.breaker.state()));
        seen.push_back(t);
    });
    const auto t0 = f.clk.now();
    f.fail(5);
    f.clk.advance(30s);
    auto p1 = f.breaker.try_acquire();
    f.breaker.on_result(p1, status_code::unavailable);
    f.clk.advance(60s);
    auto p2 = f.breaker.try_acquire();
    f.breaker.on_result(p2, status_code::ok);
    f.breaker.force_open();
    f.breaker.force_open();  // no change, no report
    f.breaker.reset();
    f.breaker.disable();
    f.breaker.reset();
    f.breaker.reset();  // closed -> closed: no report

    using S = breaker_state;
    const std::vector<std::pair<S, S>> expected = {
        {S::closed, S::open},        {S::open, S::half_open},   {S::half_open, S::open},
        {S::open, S::half_open},     {S::half_open, S::closed}, {S::closed, S::forced_open},
        {S::forced_open, S::closed}, {S::closed, S::disabled},  {S::disabled, S::closed},
    };
    BOOST_TEST_REQUIRE(seen.size() == expected.size());
    for (std::size_t i = 0; i < seen.size(); ++i) {
        BOOST_TEST((seen[i].from == expected[i].first), i);
        BOOST_TEST((seen[i].to == expected[i].second), i);
    }
    BOOST_TEST((seen[0].at == t0));
    BOOST_TEST(seen[0].reason == "5 consecutive failures");
    BOOST_TEST((seen[1].at == t0 + 30s));
    BOOST_TEST(seen[2].reason == "a failed probe (UNAVAILABLE)");
    BOOST_TEST(seen[4].reason == "probe succeeded (OK)");
    BOOST_TEST(seen[6].reason == "reset");
    BOOST_TEST(f.breaker.get_snapshot().transitions == expected.size());
}

BOOST_AUTO_TEST_CASE(the_callback_may_call_back_into_the_breaker) {
    fixture f;
    int calls = 0;
    f.breaker.on_transition([&](const breaker_transition& t) {
        ++calls;
        if (t.to == breaker_state::open) f.breaker.reset();  // an operator policy: never stay open
    });
    f.fail(5);
    BOOST_TEST(calls == 2);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(concurrency)

BOOST_AUTO_TEST_CASE(exactly_one_probe_among_many_callers) {
    constexpr int threads = 16;
    fixture f;
    for (int round = 0; round < 50; ++round) {
        f.fail(5);
        BOOST_TEST_REQUIRE((f.breaker.state() == breaker_state::open));
        f.clk.set(f.breaker.get_snapshot().next_probe_at);
        std::atomic<int> probes{0};
        std::atomic<int> allowed{0};
        std::vector<circuit_breaker::admission> winner(threads);
        std::barrier start(threads);
        std::vector<std::thread> pool;
        for (int t = 0; t < threads; ++t) {
            pool.emplace_back([&, t] {
                start.arrive_and_wait();
                auto a = f.breaker.try_acquire();
                if (a.allowed) allowed.fetch_add(1);
                if (a.probe) probes.fetch_add(1);
                winner[static_cast<std::size_t>(t)] = a;
            });
        }
        for (auto& th : pool) th.join();
        BOOST_TEST_REQUIRE(probes.load() == 1);
        BOOST_TEST_REQUIRE(allowed.load() == 1);
        for (auto& a : winner) {
            if (a.probe) f.breaker.on_result(a, status_code::ok);
        }
        BOOST_TEST_REQUIRE((f.breaker.state() == breaker_state::closed));
    }
}

// Successes while closed are counted without the lock, in per-thread shards; more threads than
// there are shards share the last one. Every one must count, and a reset must clear them all.
BOOST_AUTO_TEST_CASE(successes_from_more_threads_than_shards_all_count) {
    constexpr int threads = 12;
    constexpr int per_thread = 5000;
    fixture f;
    std::barrier start(threads);
    std::atomic<int> refused{0};  // Boost.Test's assertions are not for other threads
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t)
        pool.emplace_back([&] {
            start.arrive_and_wait();
            for (int i = 0; i < per_thread; ++i) {
                auto a = f.breaker.try_acquire();
                if (!a.allowed) refused.fetch_add(1);
                f.breaker.on_result(a, status_code::ok, f.clk.now());
            }
        });
    for (auto& t : pool) t.join();
    BOOST_TEST(refused.load() == 0);
    BOOST_TEST(f.breaker.get_snapshot().calls == std::uint64_t{threads} * per_thread);

    // The successes count towards the rate's minimum: one failure in that many calls is a rate
    // far below the threshold, so the breaker stays closed.
    f.fail();
    BOOST_TEST(f.breaker.get_snapshot().calls == std::uint64_t{threads} * per_thread + 1);
    BOOST_TEST((f.breaker.state() == breaker_state::closed));

    f.breaker.reset();
    BOOST_TEST(f.breaker.get_snapshot().calls == 0u);
    f.succeed(3);
    BOOST_TEST(f.breaker.get_snapshot().calls == 3u);
    // A whole window later, the slices have aged out.
    f.clk.advance(f.breaker.options().window + 1s);
    BOOST_TEST(f.breaker.get_snapshot().calls == 0u);
}

BOOST_AUTO_TEST_CASE(eight_threads_hammering) {
    constexpr int threads = 8;
    constexpr int iterations = 20000;
    breaker_options o;
    o.open_duration = 5ms;
    o.max_open_duration = 40ms;
    o.probe_timeout = 20ms;
    o.window = 100ms;
    o.minimum_calls = 10;
    fixture f(o);

    std::mutex seen_mutex;
    std::vector<breaker_transition> seen;
    f.breaker.on_transition([&](const breaker_transition& t) {
        std::lock_guard lock(seen_mutex);
        seen.push_back(t);
    });

    std::atomic<std::uint64_t> admitted{0};
    std::atomic<std::uint64_t> probes{0};
    std::atomic<std::uint64_t> rejected{0};
    std::atomic<bool> sick{false};  // phases of a failing and a healthy tool
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            std::minstd_rand rng(static_cast<unsigned>(t + 1));
            std::vector<circuit_breaker::admission> held;
            for (int i = 0; i < iterations; ++i) {
                const unsigned r = rng() % 100;
                if (t == 0 && r < 50) f.clk.advance(1ms);
                if (t == 0 && i % 2000 == 0) sick.store(!sick.load());
                if (t == 1 && i % 5000 == 4999) {
                    if (r < 30)
                        f.breaker.force_open();
                    else if (r < 60)
                        f.breaker.disable();
                    f.breaker.reset();
                }
                auto a = f.breaker.try_acquire();
                if (!a.allowed) {
                    rejected.fetch_add(1, std::memory_order_relaxed);
                    if (r == 0) (void)f.breaker.rejection_error(a);
                    continue;
                }
                admitted.fetch_add(1, std::memory_order_relaxed);
                if (a.probe) probes.fetch_add(1, std::memory_order_relaxed);
                if (r == 4) {
                    f.breaker.release(a);
                } else if (r < 4) {
                    held.push_back(a);  // finishes later (possibly stale by then)
                } else if (r < 10) {
                    f.breaker.on_abandoned(a);
                } else {
                    const unsigned failing = sick.load(std::memory_order_relaxed) ? 80 : 12;
                    f.breaker.on_result(a, r < failing ? status_code::unavailable : status_code::ok);
                }
                if (held.size() > 8) {
                    for (auto& h : held) f.breaker.on_result(h, status_code::ok);
                    held.clear();
                }
                if (r == 99) (void)f.breaker.get_snapshot();
            }
            for (auto& h : held) f.breaker.on_result(h, status_code::ok);
        });
    }
    for (auto& th : pool) th.join();

    BOOST_TEST_MESSAGE("admitted " << admitted.load() << ", probes " << probes.load() << ", rejected "
                                   << rejected.load() << ", transitions " << f.breaker.get_snapshot().transitions);
    BOOST_TEST(admitted.load() + rejected.load() == std::uint64_t{threads} * iterations);
    BOOST_TEST(probes.load() > 0u);
    BOOST_TEST(rejected.load() > 0u);
    const auto s = f.breaker.get_snapshot();
    {
        std::lock_guard lock(seen_mutex);
        BOOST_TEST(seen.size() == s.transitions);
        // Delivered one at a time and in order: each change starts where the previous one ended.
        for (std::size_t i = 1; i < seen.size(); ++i) {
            BOOST_TEST_REQUIRE((seen[i].from == seen[i - 1].to), i);
        }
        if (!seen.empty()) BOOST_TEST((seen.back().to == s.state));
    }
    f.breaker.reset();
    BOOST_TEST(f.breaker.try_acquire().allowed);
}

BOOST_AUTO_TEST_SUITE_END()
