// Hot-path cost of metrics updates (the pipeline's budget is <= 100 ns per call in total).
// Run: build/release/bench/bench_metrics --benchmark_min_time=0.5
#include <toolhost/metrics.hpp>
#include <toolhost/retry_policy.hpp>

#include <benchmark/benchmark.h>

#include <array>
#include <chrono>
#include <string>

namespace {

std::string tool_name(int i) {
    std::string s = "tool";
    s += std::to_string(i);
    return s;
}

toolhost::metrics_registry& registry() {
    static toolhost::metrics_registry r;
    return r;
}

void counter_inc(benchmark::State& state) {
    static auto& c = registry().counters("bench_calls_total", "h", {"tool", "status"}).with({"echo", "OK"});
    for (auto _ : state) c.inc();
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(counter_inc)->Threads(1)->Threads(2);

void gauge_inc_dec(benchmark::State& state) {
    static auto& g = registry().gauges("bench_in_flight", "h", {"tool"}).with({"echo"});
    for (auto _ : state) {
        g.inc();
        g.dec();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(gauge_inc_dec)->Threads(1)->Threads(2);

/// Latencies spread over the default buckets, so the bucket search does not always take the
/// same branches.
std::array<std::chrono::nanoseconds, 16> sample_latencies() {
    using namespace std::chrono_literals;
    return {30us, 80us, 120us, 300us, 700us, 1200us, 3ms, 7ms, 20ms, 40ms, 90ms, 200ms, 400ms, 900ms, 4s, 60s};
}

void histogram_observe(benchmark::State& state) {
    static auto& h = registry().histograms("bench_duration_seconds", "h", {"tool"}).with({"echo"});
    const auto values = sample_latencies();
    std::size_t i = 0;
    for (auto _ : state) h.observe(values[i++ & 15]);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(histogram_observe)->Threads(1)->Threads(2);

void histogram_observe_same_bucket(benchmark::State& state) {
    static auto& h = registry().histograms("bench_duration_seconds", "h", {"tool"}).with({"same"});
    for (auto _ : state) h.observe(std::chrono::microseconds(700));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(histogram_observe_same_bucket);

/// What the pipeline does per successful call: calls{status} + in-flight up/down + latency.
void per_call_bundle(benchmark::State& state) {
    auto& r = registry();
    static auto& calls = r.counters("bench_calls_total", "h", {"tool", "status"}).with({"echo", "OK"});
    static auto& in_flight = r.gauges("bench_in_flight", "h", {"tool"}).with({"echo"});
    static auto& h = r.histograms("bench_duration_seconds", "h", {"tool"}).with({"echo"});
    const auto values = sample_latencies();
    std::size_t i = 0;
    for (auto _ : state) {
        in_flight.inc();
        calls.inc();
        h.observe(values[i++ & 15]);
        in_flight.dec();
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(per_call_bundle)->Threads(1)->Threads(2);

void retry_budget_deposit(benchmark::State& state) {
    static toolhost::retry_budget budget(0.1, 10);
    for (auto _ : state) budget.deposit();  // full pool after 1000 calls: a load only
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(retry_budget_deposit)->Threads(1)->Threads(2);

void lookup_child(benchmark::State& state) {
    auto& f = registry().counters("bench_lookup_total", "h", {"tool", "status"});
    for (int i = 0; i < 100; ++i) f.with({tool_name(i), "OK"});
    for (auto _ : state) benchmark::DoNotOptimize(&f.with({"tool42", "OK"}));
}
BENCHMARK(lookup_child);

void render_100_tools(benchmark::State& state) {
    toolhost::metrics_registry r;
    auto& calls = r.counters("toolhost_calls_total", "h", {"tool", "status"});
    auto& lat = r.histograms("toolhost_call_duration_seconds", "h", {"tool"});
    for (int i = 0; i < 100; ++i) {
        calls.with({tool_name(i), "OK"}).inc(i);
        lat.with({tool_name(i)}).observe(std::chrono::milliseconds(i));
    }
    std::size_t bytes = 0;
    for (auto _ : state) bytes = r.render_prometheus().size();
    state.counters["bytes"] = static_cast<double>(bytes);
}
BENCHMARK(render_100_tools);

}  // namespace

BENCHMARK_MAIN();
