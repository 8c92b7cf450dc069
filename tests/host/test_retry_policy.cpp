#define BOOST_TEST_MODULE retry_policy
#include <boost/test/unit_test.hpp>

#include <toolhost/retry_policy.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <set>
#include <thread>
#include <vector>

using namespace std::chrono_literals;
using std::chrono::nanoseconds;
using toolhost::backoff_jitter;
using toolhost::retry_options;
using toolhost::sequence_random;
using toolhost::status_code;

namespace {

retry_options no_jitter() {
    retry_options o;
    o.jitter = backoff_jitter::none;
    return o;
}

toolhost::tool_error error_of(status_code c) { return toolhost::make_tool_error(c, "x"); }

}  // namespace

BOOST_AUTO_TEST_CASE(defaults_follow_the_design) {
    const retry_options o;
    BOOST_TEST(o.max_attempts == 3u);
    BOOST_TEST(o.initial_backoff.count() == 200);
    BOOST_TEST(o.multiplier == 2.0);
    BOOST_TEST(o.max_backoff.count() == 10000);
    BOOST_TEST((o.jitter == backoff_jitter::full));
    BOOST_TEST(o.retry_on.size() == 4u);
    BOOST_TEST(toolhost::validate(o).empty());
}

BOOST_AUTO_TEST_CASE(backoff_is_exponential_and_capped_without_jitter) {
    const auto o = no_jitter();
    sequence_random rnd({0.5});
    BOOST_TEST(toolhost::backoff(o, 0, rnd).count() == 0);
    BOOST_TEST((toolhost::backoff(o, 1, rnd) == 200ms));
    BOOST_TEST((toolhost::backoff(o, 2, rnd) == 400ms));
    BOOST_TEST((toolhost::backoff(o, 3, rnd) == 800ms));
    BOOST_TEST((toolhost::backoff(o, 6, rnd) == 6400ms));
    BOOST_TEST((toolhost::backoff(o, 7, rnd) == 10s));              // 12.8 s capped
    BOOST_TEST((toolhost::backoff(o, 1'000'000'000, rnd) == 10s));  // no overflow
    BOOST_TEST(rnd.draws() == 0u);                                  // no jitter draws no number

    auto slow = no_jitter();
    slow.initial_backoff = 100ms;
    slow.multiplier = 1.5;
    BOOST_TEST((toolhost::backoff(slow, 3, rnd) == 225ms));
    slow.multiplier = 1.0;
    BOOST_TEST((toolhost::backoff(slow, 50, rnd) == 100ms));
    slow.initial_backoff = 0ms;
    BOOST_TEST(toolhost::backoff(slow, 2, rnd).count() == 0);
}

BOOST_AUTO_TEST_CASE(full_jitter_is_uniform_between_zero_and_d) {
    retry_options o;  // full jitter by default
    sequence_random rnd({0.5, 0.0, 1.0, 0.25});
    BOOST_TEST((toolhost::backoff(o, 1, rnd) == 100ms));    // 0.5 x 200 ms
    BOOST_TEST(toolhost::backoff(o, 2, rnd).count() == 0);  // 0 x 400 ms
    BOOST_TEST((toolhost::backoff(o, 3, rnd) == 800ms));    // 1 x 800 ms
    BOOST_TEST((toolhost::backoff(o, 10, rnd) == 2500ms));  // 0.25 x 10 s (capped first)
    BOOST_TEST(rnd.draws() == 4u);
}

BOOST_AUTO_TEST_CASE(equal_jitter_is_half_plus_uniform_half) {
    retry_options o;
    o.jitter = backoff_jitter::equal;
    sequence_random rnd({0.0, 1.0, 0.5});
    BOOST_TEST((toolhost::backoff(o, 1, rnd) == 100ms));
    BOOST_TEST((toolhost::backoff(o, 1, rnd) == 200ms));
    BOOST_TEST((toolhost::backoff(o, 3, rnd) == 600ms));  // 400 + 0.5 x 400
}

BOOST_AUTO_TEST_CASE(out_of_range_random_numbers_are_clamped) {
    retry_options o;
    sequence_random rnd({1.5, -1.0, std::nan("")});
    BOOST_TEST((toolhost::backoff(o, 1, rnd) == 200ms));
    BOOST_TEST(toolhost::backoff(o, 1, rnd).count() == 0);
    BOOST_TEST(toolhost::backoff(o, 1, rnd).count() == 0);
}

BOOST_AUTO_TEST_CASE(should_retry_matrix) {
    const retry_options o;  // 3 attempts; UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, ABORTED
    const std::set<status_code> retryable{status_code::unavailable, status_code::deadline_exceeded,
                                          status_code::resource_exhausted, status_code::aborted};
    for (int raw = 0; raw <= 16; ++raw) {
        const auto code = static_cast<status_code>(raw);
        for (bool idempotent : {false, true}) {
            for (std::uint32_t made : {1u, 2u, 3u, 4u}) {
                const bool expected = idempotent && made < 3 && retryable.contains(code);
                BOOST_TEST(toolhost::should_retry(o, error_of(code), made, idempotent) == expected,
                           toolhost::status_name(code) << " idempotent=" << idempotent << " made=" << made);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(cancelled_is_never_retried_even_if_listed) {
    retry_options o;
    o.retry_on = {status_code::cancelled, status_code::internal, status_code::ok};
    BOOST_TEST(!toolhost::should_retry(o, error_of(status_code::cancelled), 1, true));
    BOOST_TEST(!toolhost::should_retry(o, error_of(status_code::ok), 1, true));
    BOOST_TEST(toolhost::should_retry(o, error_of(status_code::internal), 1, true));
    BOOST_TEST(!toolhost::should_retry(o, error_of(status_code::unavailable), 1, true));  // not listed
    o.max_attempts = 1;
    BOOST_TEST(!toolhost::should_retry(o, error_of(status_code::internal), 1, true));
}

BOOST_AUTO_TEST_CASE(retry_after_hint_is_honoured) {
    const auto o = no_jitter();
    sequence_random rnd({0.5});
    auto e = error_of(status_code::unavailable);
    BOOST_TEST((toolhost::next_delay(o, e, 1, rnd) == 200ms));  // no hint: the backoff
    e.retry_after = 1ms;
    BOOST_TEST((toolhost::next_delay(o, e, 1, rnd) == 200ms));  // shorter hint: the backoff
    e.retry_after = 5s;
    BOOST_TEST((toolhost::next_delay(o, e, 1, rnd) == 5s));
    e.retry_after = 30s;  // above max_backoff: still honoured
    BOOST_TEST((toolhost::next_delay(o, e, 1, rnd) == 30s));

    retry_options full;  // with jitter the hint is a floor
    sequence_random zero({0.0});
    e.retry_after = 50ms;
    BOOST_TEST((toolhost::next_delay(full, e, 3, zero) == 50ms));
}

BOOST_AUTO_TEST_CASE(worst_case_total_adds_timeouts_and_unjittered_backoffs) {
    const retry_options o;
    BOOST_TEST((toolhost::worst_case_total(o, 1s) == 3s + 200ms + 400ms));
    retry_options many;
    many.max_attempts = 10;
    many.initial_backoff = 1s;
    // 1 + 2 + 4 + 8 + 10 x 5 = 65 s of backoff before the 10 attempts
    BOOST_TEST((toolhost::worst_case_total(many, 2s) == 20s + 65s));
    retry_options once;
    once.max_attempts = 1;
    BOOST_TEST((toolhost::worst_case_total(once, 750ms) == 750ms));
    retry_options huge;
    huge.max_attempts = std::numeric_limits<std::uint32_t>::max();
    BOOST_TEST((toolhost::worst_case_total(huge, 1h) == nanoseconds::max()));  // saturates
    BOOST_TEST((toolhost::worst_case_total(o, -1s) == 600ms));                 // a negative timeout counts as 0
}

BOOST_AUTO_TEST_CASE(validate_names_each_problem) {
    retry_options o;
    o.max_attempts = 0;
    o.multiplier = 0.5;
    o.initial_backoff = 20s;
    o.retry_on.push_back(status_code::cancelled);
    const std::string text = toolhost::validate(o);
    BOOST_TEST(text.find("max_attempts: must be at least 1") != std::string::npos, text);
    BOOST_TEST(text.find("multiplier: must be a finite number >= 1") != std::string::npos, text);
    BOOST_TEST(text.find("initial_backoff: 20000 ms is more than max_backoff (10000 ms)") != std::string::npos, text);
    BOOST_TEST(text.find("retry_on: CANCELLED is never retried") != std::string::npos, text);

    retry_options inf;
    inf.multiplier = std::numeric_limits<double>::infinity();
    inf.max_backoff = -1ms;
    inf.initial_backoff = -2ms;
    const std::string t2 = toolhost::validate(inf);
    BOOST_TEST(t2.find("multiplier:") != std::string::npos, t2);
    BOOST_TEST(t2.find("max_backoff: must not be negative") != std::string::npos, t2);
    BOOST_TEST(t2.find("initial_backoff: must not be negative") != std::string::npos, t2);
}

BOOST_AUTO_TEST_CASE(budget_allows_ratio_retries_per_call) {
    toolhost::manual_clock clk;
    toolhost::retry_budget b(0.1, 0, clk);
    BOOST_TEST(!b.try_withdraw());  // the pool starts empty, no reserve
    for (int i = 0; i < 9; ++i) b.deposit();
    BOOST_TEST(!b.try_withdraw());  // 0.9 tokens
    b.deposit();
    BOOST_TEST(b.tokens() == 1.0);
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(!b.try_withdraw());
    for (int i = 0; i < 35; ++i) b.deposit();
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(!b.try_withdraw());
    BOOST_TEST(std::abs(b.tokens() - 0.5) < 1e-9);
    clk.advance(1h);  // time alone adds nothing to the pool
    BOOST_TEST(!b.try_withdraw());
}

BOOST_AUTO_TEST_CASE(budget_pool_is_capped) {
    toolhost::manual_clock clk;
    toolhost::retry_budget b(0.5, 0, clk, 2.0);
    for (int i = 0; i < 1000; ++i) b.deposit();
    BOOST_TEST(b.tokens() == 2.0);
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(!b.try_withdraw());
    BOOST_CHECK_THROW(toolhost::retry_budget(-0.1, 0, clk), std::invalid_argument);
    BOOST_CHECK_THROW(toolhost::retry_budget(std::nan(""), 0, clk), std::invalid_argument);
    BOOST_CHECK_THROW(toolhost::retry_budget(0.1, 0, clk, -1), std::invalid_argument);
}

BOOST_AUTO_TEST_CASE(budget_reserve_refills_over_time) {
    toolhost::manual_clock clk;
    toolhost::retry_budget b(0.0, 10, clk);
    BOOST_TEST(b.reserve_tokens() == 10.0);
    for (int i = 0; i < 10; ++i) BOOST_TEST(b.try_withdraw(), "withdrawal " << i);
    BOOST_TEST(!b.try_withdraw());
    BOOST_TEST(b.reserve_tokens() == 0.0);
    clk.advance(99ms);
    BOOST_TEST(!b.try_withdraw());
    clk.advance(1ms);  // one token per 100 ms
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(!b.try_withdraw());
    clk.advance(350ms);
    BOOST_TEST(b.reserve_tokens() == 3.0);
    clk.advance(1h);  // the reserve holds one second's worth at most
    BOOST_TEST(b.reserve_tokens() == 10.0);
    int granted = 0;
    while (b.try_withdraw()) ++granted;
    BOOST_TEST(granted == 10);
}

BOOST_AUTO_TEST_CASE(budget_uses_the_pool_before_the_reserve) {
    toolhost::manual_clock clk;
    toolhost::retry_budget b(1.0, 2, clk);
    b.deposit();
    b.deposit();
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(b.reserve_tokens() == 2.0);  // untouched
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(b.try_withdraw());
    BOOST_TEST(!b.try_withdraw());
}

BOOST_AUTO_TEST_CASE(budget_is_exact_under_concurrency) {
    toolhost::manual_clock clk;
    toolhost::retry_budget b(0.5, 0, clk, 1e9);
    constexpr int threads = 4;
    constexpr int per_thread = 20'000;
    std::atomic<int> granted{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
            for (int i = 0; i < per_thread; ++i) {
                b.deposit();
                if (b.try_withdraw()) granted.fetch_add(1, std::memory_order_relaxed);
            }
        });
    }
    for (auto& th : pool) th.join();
    BOOST_TEST(granted.load() <= threads * per_thread / 2);
    BOOST_TEST(b.tokens() * 2 + granted.load() * 2 == threads * per_thread);
}

BOOST_AUTO_TEST_CASE(sequence_random_cycles) {
    sequence_random rnd({0.1, 0.2});
    BOOST_TEST(rnd.next_unit() == 0.1);
    BOOST_TEST(rnd.next_unit() == 0.2);
    BOOST_TEST(rnd.next_unit() == 0.1);
    BOOST_TEST(rnd.draws() == 3u);
    sequence_random empty({});
    BOOST_TEST(empty.next_unit() == 0.0);
}

BOOST_AUTO_TEST_CASE(default_random_is_uniform_in_unit_interval_and_per_thread) {
    auto& rnd = toolhost::default_random();
    double sum = 0;
    constexpr int n = 20'000;
    for (int i = 0; i < n; ++i) {
        const double u = rnd.next_unit();
        BOOST_TEST_REQUIRE(u >= 0.0);
        BOOST_TEST_REQUIRE(u < 1.0);
        sum += u;
    }
    BOOST_TEST(std::abs(sum / n - 0.5) < 0.02);  // 0.02 is > 9 standard deviations

    std::vector<double> a, b;
    std::thread ta([&] {
        for (int i = 0; i < 8; ++i) a.push_back(rnd.next_unit());
    });
    std::thread tb([&] {
        for (int i = 0; i < 8; ++i) b.push_back(rnd.next_unit());
    });
    ta.join();
    tb.join();
    BOOST_TEST(a != b);
}
