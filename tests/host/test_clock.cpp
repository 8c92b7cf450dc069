// The host's monotonic clock: steady_clock_source, and the counter-based clock behind it
// (host/src/execution/tsc_clock.hpp) driven by a simulated counter, where the tests decide when the
// counter and steady_clock part (a suspend, a paused VM, a counter stepping back, a drifting
// frequency).
#define BOOST_TEST_MODULE clock
#include <boost/test/unit_test.hpp>

#include <toolhost/clock.hpp>

#include "execution/tsc_clock.hpp"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <thread>
#include <vector>

using namespace toolhost;
using namespace std::chrono_literals;

namespace {

// Simulated time: every reading of the counter or of steady_clock moves "true" time on by
// `step_ns`; the counter runs at `ghz` ticks per true nanosecond plus an offset in ticks, and
// steady_clock shows true time plus an offset. The tests move the offsets.
struct simulation {
    std::atomic<std::int64_t> true_ns{1'000'000'000};
    std::atomic<std::int64_t> counter_offset{0};
    std::atomic<std::int64_t> steady_offset{0};
    std::atomic<double> ghz{2.6};
    std::int64_t step_ns = 100;

    std::int64_t tick() { return true_ns.fetch_add(step_ns) + step_ns; }
    std::int64_t steady_now() const { return true_ns.load() + steady_offset.load(); }
};

struct simulated_counter {
    simulation* sim;
    std::uint64_t counter() const noexcept {
        const auto t = sim->tick();
        return static_cast<std::uint64_t>(static_cast<double>(t) * sim->ghz.load()) +
               static_cast<std::uint64_t>(sim->counter_offset.load());
    }
    std::int64_t steady_ns() const noexcept { return sim->tick() + sim->steady_offset.load(); }
};

using sim_clock = detail::tsc_clock<simulated_counter>;

std::int64_t ticks(std::chrono::nanoseconds d, double ghz = 2.6) {
    return static_cast<std::int64_t>(static_cast<double>(d.count()) * ghz);
}

// Reads `n` times; every reading must not be below the one before, and must lie within `tol`
// of steady_clock's time around it. Returns the last reading.
std::int64_t read_and_check(sim_clock& c, simulation& sim, int n, std::int64_t tol, std::int64_t last = INT64_MIN) {
    int backwards = 0, off = 0;
    for (int i = 0; i < n; ++i) {
        const auto before = sim.steady_now();
        const auto t = c.now_ns();
        const auto after = sim.steady_now();
        if (t < last) ++backwards;
        if (t < before - tol || t > after + tol) ++off;
        last = t;
    }
    BOOST_TEST(backwards == 0);
    BOOST_TEST(off == 0);
    return last;
}

// Reads `n` times, calling `each` with every reading; each must not be below the one before.
template <class Each>
std::int64_t read_monotonic(sim_clock& c, int n, std::int64_t last, Each&& each) {
    for (int i = 0; i < n; ++i) {
        const auto t = c.now_ns();
        BOOST_TEST_REQUIRE(t >= last);
        last = t;
        each(t);
    }
    return last;
}

}  // namespace

// A clock calibrated on a fresh simulation.
struct calibrated {
    simulation sim;
    sim_clock c{simulated_counter{&sim}};
    calibrated() { BOOST_TEST_REQUIRE(c.enabled()); }
};

BOOST_FIXTURE_TEST_CASE(a_calibrated_clock_follows_steady_clock_across_its_reanchoring, calibrated) {
    // 200,000 readings of at least 100 ns of simulated time each: 2 re-anchors and more.
    read_and_check(c, sim, 200'000, 1'000);
}

BOOST_FIXTURE_TEST_CASE(a_drifting_counter_is_followed_by_the_reanchoring, calibrated) {
    sim.step_ns = 1'000;
    auto last = read_and_check(c, sim, 20'000, 2'000);
    // The counter runs 0.02% fast from now on (steady_clock does not): the clock stays within
    // a few microseconds, slewing back at each re-anchor.
    const auto t0 = sim.true_ns.load();
    sim.counter_offset = static_cast<std::int64_t>(static_cast<double>(t0) * 2.6) -
                         static_cast<std::int64_t>(static_cast<double>(t0) * 2.6005);
    sim.ghz = 2.6005;
    read_and_check(c, sim, 300'000, 10'000, last);
}

BOOST_FIXTURE_TEST_CASE(a_counter_that_ran_on_while_steady_clock_stood_still_is_resynchronized, calibrated) {
    // Suspend to idle: the counter counts 5 s that CLOCK_MONOTONIC does not.
    auto last = read_and_check(c, sim, 10'000, 1'000);
    sim.counter_offset += ticks(5s);
    // The first reading after it re-anchors before it answers: no reading is 5 s ahead, and
    // none goes backwards.
    read_and_check(c, sim, 50'000, 1'000, last);
}

BOOST_FIXTURE_TEST_CASE(steady_clock_moving_on_without_the_counter_is_caught_up_with, calibrated) {
    // A paused VM whose counter stood still while steady_clock went on by 2 s: the clock lags
    // until the next re-anchor (within 10 ms of counter time), then jumps forwards to it.
    auto last = read_and_check(c, sim, 10'000, 1'000);
    sim.steady_offset += std::chrono::nanoseconds(2s).count();
    int lagging = 0;
    constexpr int n = 150'000;  // a reading is one counter read, 100 ns: 15 ms of counter time
    last = read_monotonic(c, n, last, [&](std::int64_t t) {
        if (t < sim.steady_now() - 1'000'000) ++lagging;
    });
    BOOST_TEST(lagging > 0);  // it did lag at first
    BOOST_TEST(lagging < n);  // and caught up
    read_and_check(c, sim, 10'000, 1'000, last);
}

BOOST_FIXTURE_TEST_CASE(a_counter_stepping_back_a_little_never_makes_a_thread_see_time_go_back, calibrated) {
    const auto last = read_and_check(c, sim, 1'000, 1'000);
    // After every reading, a move to a vCPU whose counter is another 500 ns behind.
    read_monotonic(c, 100, last, [&](std::int64_t) { sim.counter_offset -= ticks(500ns); });
}

BOOST_AUTO_TEST_CASE(threads_reading_a_simulated_clock_together_never_see_it_go_back) {
    simulation sim;
    sim_clock c{simulated_counter{&sim}};
    BOOST_TEST_REQUIRE(c.enabled());
    std::atomic<int> backwards{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&] {
            std::int64_t last = INT64_MIN;
            for (int i = 0; i < 50'000; ++i) {
                const auto now = c.now_ns();
                if (now < last) backwards.fetch_add(1);
                last = now;
            }
        });
    for (auto& t : threads) t.join();
    BOOST_TEST(backwards.load() == 0);
}

// The host's clock (steady_clock_source: the time-stamp counter where that is safe, else
// std::chrono::steady_clock) agrees with std::chrono::steady_clock and never runs backwards, on
// several threads at once, across its re-anchoring (every 10 ms): readings for 0.6 s. The
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
