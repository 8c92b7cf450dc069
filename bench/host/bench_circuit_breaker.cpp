// circuit_breaker hot paths on the real steady clock.
//   open_reject:            try_acquire() on an open breaker (goal: <= 50 ns)
//   forced_open_reject:     try_acquire() on a forced-open breaker (no clock read)
//   closed_acquire:         try_acquire() alone on a closed breaker
//   closed_acquire_success: try_acquire() + on_result(OK) on a closed breaker
// The ->Threads(2) runs share one breaker, to show contention on its cache line and lock.
#include <toolhost/circuit_breaker.hpp>

#include <benchmark/benchmark.h>

#include <chrono>

namespace {

using toolhost::circuit_breaker;
using toolhost::status_code;

toolhost::breaker_options long_open() {
    toolhost::breaker_options o;
    o.open_duration = std::chrono::hours(24);  // stays open for the whole run
    o.max_open_duration = std::chrono::hours(24);
    return o;
}

}  // namespace

static void open_reject(benchmark::State& state) {
    static circuit_breaker breaker("bench", long_open(), toolhost::steady_clock_instance());
    if (state.thread_index() == 0) {
        for (int i = 0; i < 5; ++i) breaker.on_result(breaker.try_acquire(), status_code::unavailable);
    }
    for (auto _ : state) {
        auto a = breaker.try_acquire();
        benchmark::DoNotOptimize(a);
    }
    if (breaker.state() != toolhost::breaker_state::open) state.SkipWithError("breaker not open");
}
BENCHMARK(open_reject);
BENCHMARK(open_reject)->Threads(2);

static void forced_open_reject(benchmark::State& state) {
    static circuit_breaker breaker("bench", {}, toolhost::steady_clock_instance());
    if (state.thread_index() == 0) breaker.force_open();
    for (auto _ : state) {
        auto a = breaker.try_acquire();
        benchmark::DoNotOptimize(a);
    }
}
BENCHMARK(forced_open_reject);

static void closed_acquire(benchmark::State& state) {
    static circuit_breaker breaker("bench", {}, toolhost::steady_clock_instance());
    for (auto _ : state) {
        auto a = breaker.try_acquire();
        benchmark::DoNotOptimize(a);
    }
}
BENCHMARK(closed_acquire);

static void closed_acquire_success(benchmark::State& state) {
    static circuit_breaker breaker("bench", {}, toolhost::steady_clock_instance());
    for (auto _ : state) {
        auto a = breaker.try_acquire();
        breaker.on_result(a, status_code::ok);
    }
    if (breaker.state() != toolhost::breaker_state::closed) state.SkipWithError("breaker not closed");
}
BENCHMARK(closed_acquire_success);
BENCHMARK(closed_acquire_success)->Threads(2);

BENCHMARK_MAIN();
