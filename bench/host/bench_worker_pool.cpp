// boost::asio::thread_pool against toolhost::worker_pool, both with 2 threads:
//  - latency: one caller posts one function at a time and waits for it to finish; the time
//    from post to the caller seeing completion, p50/p99 as counters (the time column is the
//    mean). `gap_us` is the caller's think time between calls: 0 back to back, 20 within
//    worker_pool's spin budget, 1000 beyond it (its workers have parked, like thread_pool's).
//    `wait` is how the caller waits: 0 busy (pause loop, as bench_call does), 1 sched_yield.
//  - throughput: `outstanding` chains of calls in flight, each completion posting the next
//    from the pool thread (as bench_call's host throughput does); items_per_second.
#include <toolhost/worker_pool.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

namespace {

constexpr std::size_t pool_threads = 2;

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

using clock_type = std::chrono::steady_clock;

double percentile_us(std::vector<double>& samples, double p) {
    if (samples.empty()) return 0;
    auto nth = samples.begin() + static_cast<std::ptrdiff_t>(p * static_cast<double>(samples.size() - 1));
    std::nth_element(samples.begin(), nth, samples.end());
    return *nth;
}

template <class Pool>
void BM_latency(benchmark::State& state) {
    const auto gap = std::chrono::microseconds(state.range(0));
    const bool yield_while_waiting = state.range(1) != 0;
    Pool pool(pool_threads);
    std::atomic<std::uint64_t> done{0};
    std::uint64_t seq = 0;
    auto one_call = [&] {
        ++seq;
        const auto start = clock_type::now();
        boost::asio::post(pool, [&done, s = seq] { done.store(s, std::memory_order_release); });
        while (done.load(std::memory_order_acquire) != seq) {
            if (yield_while_waiting)
                std::this_thread::yield();
            else
                cpu_relax();
        }
        return std::chrono::duration<double>(clock_type::now() - start).count();
    };
    for (int i = 0; i < 100; ++i) one_call();  // threads started and warm

    std::vector<double> samples;
    samples.reserve(1 << 20);
    for (auto _ : state) {
        if (gap >= std::chrono::microseconds(500)) {
            std::this_thread::sleep_for(gap);  // long idle: the caller sleeps too
        } else if (gap.count() > 0) {
            const auto until = clock_type::now() + gap;  // short think time: busy, like real work
            while (clock_type::now() < until) cpu_relax();
        }
        const double seconds = one_call();
        state.SetIterationTime(seconds);
        if (samples.size() < samples.capacity()) samples.push_back(seconds * 1e6);
    }
    state.counters["p50_us"] = percentile_us(samples, 0.50);
    state.counters["p99_us"] = percentile_us(samples, 0.99);
    pool.join();
}

template <class Pool>
void BM_throughput(benchmark::State& state) {
    const auto outstanding = static_cast<std::int64_t>(state.range(0));
    constexpr std::int64_t calls_per_iteration = 100000;
    Pool pool(pool_threads);
    for (auto _ : state) {
        std::atomic<std::int64_t> remaining{calls_per_iteration};
        std::atomic<std::int64_t> completed{0};
        std::function<void()> submit = [&] {
            boost::asio::post(pool, [&] {
                completed.fetch_add(1, std::memory_order_relaxed);
                if (remaining.fetch_sub(1, std::memory_order_relaxed) > outstanding) submit();
            });
        };
        for (std::int64_t i = 0; i < outstanding; ++i) submit();
        while (completed.load(std::memory_order_acquire) < calls_per_iteration) std::this_thread::yield();
    }
    state.SetItemsProcessed(state.iterations() * calls_per_iteration);
    pool.join();
}

using asio_pool = boost::asio::thread_pool;
using toolhost::worker_pool;

void latency_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"gap_us", "wait"})->UseManualTime();
    for (int wait : {0, 1}) {
        b->Args({0, wait})->Args({20, wait});
    }
}
void idle_latency_args(benchmark::internal::Benchmark* b) {
    b->ArgNames({"gap_us", "wait"})->Args({1000, 0})->Args({1000, 1})->Iterations(2000)->UseManualTime();
}

BENCHMARK_TEMPLATE(BM_latency, asio_pool)->Apply(latency_args);
BENCHMARK_TEMPLATE(BM_latency, worker_pool)->Apply(latency_args);
BENCHMARK_TEMPLATE(BM_latency, asio_pool)->Apply(idle_latency_args);
BENCHMARK_TEMPLATE(BM_latency, worker_pool)->Apply(idle_latency_args);
BENCHMARK_TEMPLATE(BM_throughput, asio_pool)
    ->ArgName("outstanding")
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);
BENCHMARK_TEMPLATE(BM_throughput, worker_pool)
    ->ArgName("outstanding")
    ->Arg(1)
    ->Arg(16)
    ->Arg(256)
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
