// thread_timer_service: the real-time timers behind attempt timeouts and retry backoff. Every
// wait here is bounded by a generous guard; nothing asserts how fast a timer fires.
#define BOOST_TEST_MODULE timer_service
#include <boost/test/unit_test.hpp>

#include <toolhost/timer_service.hpp>

#include <algorithm>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

using namespace toolhost;
using namespace std::chrono_literals;

namespace {
constexpr auto guard = 30s;  // a hang guard, not a timing assertion
}

BOOST_AUTO_TEST_CASE(timers_fire_in_deadline_order_and_a_sooner_one_wakes_the_thread) {
    thread_timer_service timers;
    std::mutex m;
    std::vector<int> order;
    std::promise<void> done;
    const auto now = steady_clock_instance().now();
    // A far timer first: the thread sleeps until it; the sooner ones must wake it early.
    auto far = timers.schedule(now + 1h, [] {});
    timers.schedule(now + 30ms, [&] {
        std::lock_guard lock(m);
        order.push_back(3);
        done.set_value();
    });
    timers.schedule(now + 20ms, [&] {
        std::lock_guard lock(m);
        order.push_back(2);
    });
    timers.schedule(now, [&] {
        std::lock_guard lock(m);
        order.push_back(1);
    });
    BOOST_TEST_REQUIRE((done.get_future().wait_for(guard) == std::future_status::ready));
    std::lock_guard lock(m);
    BOOST_TEST((order == std::vector<int>{1, 2, 3}));
    BOOST_TEST(timers.cancel(far));   // still pending: cancelled
    BOOST_TEST(!timers.cancel(far));  // already gone
}

BOOST_AUTO_TEST_CASE(cancelled_timers_never_run_and_fired_ones_cannot_be_cancelled) {
    thread_timer_service timers;
    std::atomic<int> ran{0};
    const auto now = steady_clock_instance().now();
    // Scheduled and cancelled from several threads at once (each thread has its own shard).
    std::vector<std::thread> threads;
    std::atomic<int> cancelled{0};
    for (int t = 0; t < 8; ++t)
        threads.emplace_back([&] {
            for (int i = 0; i < 1000; ++i) {
                auto id = timers.schedule(now + 1h, [&] { ran.fetch_add(1); });
                if (timers.cancel(id)) cancelled.fetch_add(1);
            }
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(cancelled.load() == 8000);
    std::promise<void> fired;
    auto id = timers.schedule(now, [&] { fired.set_value(); });
    BOOST_TEST_REQUIRE((fired.get_future().wait_for(guard) == std::future_status::ready));
    BOOST_TEST(!timers.cancel(id));
    BOOST_TEST(ran.load() == 0);
}

BOOST_AUTO_TEST_CASE(a_callback_may_schedule_another_timer) {
    thread_timer_service timers;
    std::promise<int> second;
    timers.schedule(steady_clock_instance().now(), [&] {
        timers.schedule(steady_clock_instance().now() + 5ms, [&] { second.set_value(2); });
    });
    auto f = second.get_future();
    BOOST_TEST_REQUIRE((f.wait_for(guard) == std::future_status::ready));
    BOOST_TEST(f.get() == 2);
}

BOOST_AUTO_TEST_CASE(destruction_drops_pending_timers) {
    std::atomic<int> ran{0};
    {
        thread_timer_service timers;
        for (int i = 0; i < 100; ++i) timers.schedule(steady_clock_instance().now() + 1h, [&] { ran.fetch_add(1); });
    }
    BOOST_TEST(ran.load() == 0);
}

// The host's clock (steady_clock_source: the time-stamp counter where that is safe, else
// std::chrono::steady_clock) agrees with std::chrono::steady_clock and never runs backwards, on
// several threads at once, across its re-anchoring (every 250 ms): readings for 0.6 s. The
// bound is an agreement bound, not a speed: a reading taken between two steady_clock readings
// must lie between them, give or take 1 ms.
BOOST_AUTO_TEST_CASE(the_host_clock_follows_steady_clock_and_never_runs_backwards) {
    BOOST_TEST_MESSAGE("steady_clock_source reads the time-stamp counter: " << steady_clock_source::reads_tsc());
    const toolhost::clock& host_clock = steady_clock_instance();
    const auto until = std::chrono::steady_clock::now() + 600ms;
    std::atomic<int> backwards{0}, disagreements{0};
    std::atomic<long> readings{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            auto last = host_clock.now();
            long n = 0;
            while (std::chrono::steady_clock::now() < until) {
                for (int i = 0; i < 1000; ++i, ++n) {
                    const auto now = host_clock.now();
                    if (now < last) backwards.fetch_add(1);
                    last = now;
                }
                const auto before = std::chrono::steady_clock::now();
                const auto reading = host_clock.now();
                const auto after = std::chrono::steady_clock::now();
                if (reading < before - 1ms || reading > after + 1ms) disagreements.fetch_add(1);
                last = std::max(last, reading);
            }
            readings.fetch_add(n);
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(backwards.load() == 0);
    BOOST_TEST(disagreements.load() == 0);
    BOOST_TEST(readings.load() > 0);
}
