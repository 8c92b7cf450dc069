// thread_timer_service: the real-time timers behind attempt timeouts and retry backoff. Every
// wait here is bounded by a generous guard; nothing asserts how fast a timer fires.
#define BOOST_TEST_MODULE timer_service
#include <boost/test/unit_test.hpp>

#include <toolhost/timer_service.hpp>

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
    timers.schedule(steady_clock_instance().now(),
                    [&] { timers.schedule(steady_clock_instance().now() + 5ms, [&] { second.set_value(2); }); });
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

// Each shard keeps its timers in a slab of reused entries ordered by an indexed heap: cancelling
// from the middle must keep the order of the rest, and a reused entry must not answer to the id
// of the timer that had it before.
BOOST_AUTO_TEST_CASE(cancelling_from_the_middle_keeps_the_order_and_stale_ids_miss) {
    thread_timer_service timers;
    const auto base = steady_clock_instance().now() + 200ms;
    std::mutex m;
    std::vector<int> fired;
    std::vector<timer_service::timer_id> ids;
    // Deadlines scheduled out of order: 0, 7, 14, ... (mod 50) milliseconds after base.
    for (int i = 0; i < 50; ++i) {
        const int at = (i * 7) % 50;
        ids.push_back(timers.schedule(base + std::chrono::milliseconds(at), [&, at] {
            std::lock_guard lock(m);
            fired.push_back(at);
        }));
    }
    // Cancel every third one, from all over the heap.
    std::vector<bool> cancelled(50, false);
    for (int i = 0; i < 50; i += 3) {
        BOOST_TEST(timers.cancel(ids[i]));
        cancelled[static_cast<std::size_t>((i * 7) % 50)] = true;
    }
    BOOST_TEST(!timers.cancel(ids[0]));  // twice: already cancelled
    // New timers reuse the freed entries; the old ids must not cancel them.
    std::promise<void> reused_ran;
    const auto reused = timers.schedule(base + 60ms, [&] { reused_ran.set_value(); });
    for (int i = 0; i < 50; i += 3) BOOST_TEST(!timers.cancel(ids[i]));
    BOOST_TEST_REQUIRE((reused_ran.get_future().wait_for(guard) == std::future_status::ready));
    BOOST_TEST(!timers.cancel(reused));  // ran: too late

    std::lock_guard lock(m);
    std::vector<int> expected;
    for (int at = 0; at < 50; ++at)
        if (!cancelled[static_cast<std::size_t>(at)]) expected.push_back(at);
    BOOST_TEST(fired == expected, boost::test_tools::per_element());
}
