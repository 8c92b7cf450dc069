// The cost of one tool call: a direct call through the C ABI, the host's tool_instance adapter,
// and a full host call through the thread pool, with one caller (latency) and many concurrent
// callers (throughput). The tool is the bundled no-op `echo` plugin.
#include <toolhost/host.hpp>
#include <toolhost/json_schema.hpp>
#include <toolhost/tool_instance.hpp>
#include <toolhost/plugin_library.hpp>

#include <benchmark/benchmark.h>
#include <boost/asio/use_future.hpp>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <new>
#include <chrono>
#include <thread>
#include <vector>

namespace json = boost::json;
using namespace toolhost;

// Counts heap allocations per thread (a shared counter would be a contended cache line in the
// multi-threaded benchmarks), so the inline benchmark can report allocations per call.
namespace {
thread_local uint64_t t_allocations = 0;
}
// GCC pairs its built-in knowledge of operator new with free() and warns; these replacements
// allocate with malloc, so free is the right match.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    ++t_allocations;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

std::filesystem::path echo_path() { return std::filesystem::path(TOOLHOST_BENCH_PLUGIN_DIR) / "echo.so"; }

host_config bench_config(unsigned threads) {
    auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
    c.plugin_dirs = {TOOLHOST_BENCH_PLUGIN_DIR};
    c.data_dir = std::filesystem::temp_directory_path() / "toolhost-bench";
    c.threads = threads;
    c.log_level = "off";
    return c;
}

// toolhost_call_t with no-op services: the floor for any host.
void BM_direct_abi_call(benchmark::State& state) {
    auto lib = *plugin_library::open(echo_path());
    const auto& entry = lib->entry();
    toolhost_host_t h{};
    h.struct_size = sizeof h;
    h.log = [](const toolhost_host_t*, int32_t, toolhost_str_t) {};
    h.log_enabled = [](const toolhost_host_t*, int32_t) { return false; };
    h.get_extension = [](const toolhost_host_t*, const char*) -> const void* { return nullptr; };
    toolhost_tool_t* tool = nullptr;
    if (entry.create_tool(0, &h, &tool) != TOOLHOST_STATUS_OK) {
        state.SkipWithError("create_tool failed");
        return;
    }
    static size_t sink = 0;
    toolhost_call_t c{};
    c.struct_size = sizeof c;
    c.operation = TOOLHOST_STR_LITERAL("echo");
    c.arguments = TOOLHOST_STR_LITERAL("{}");
    c.is_cancelled = [](const toolhost_call_t*) { return false; };
    c.remaining_ns = [](const toolhost_call_t*) -> int64_t { return INT64_MAX; };
    c.log = [](const toolhost_call_t*, int32_t, toolhost_str_t) {};
    c.report_progress = [](const toolhost_call_t*, double, double, toolhost_str_t) {};
    c.set_result = [](const toolhost_call_t*, toolhost_str_t s) { sink += s.size; };
    c.set_error = [](const toolhost_call_t*, toolhost_str_t) {};
    c.set_retry_after_ms = [](const toolhost_call_t*, uint64_t) {};
    for (auto _ : state) {
        benchmark::DoNotOptimize(tool->invoke(tool, &c));
    }
    benchmark::DoNotOptimize(sink);
    tool->destroy(tool);
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_direct_abi_call);

// The host's in-process adapter (tool_instance::invoke): call frame, result copy, error mapping.
void BM_tool_instance_invoke(benchmark::State& state) {
    auto lib = *plugin_library::open(echo_path());
    auto tools = lib->tools();
    auto instance = tools.at(0).factory->create({}).value();
    call_control control;
    invocation inv;
    inv.tool = "echo";
    inv.operation = "echo";
    inv.arguments = "{}";
    inv.control = &control;
    for (auto _ : state) {
        auto r = instance->invoke(inv);
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_tool_instance_invoke);

// One caller, one call at a time: the time from submitting a call to its completion handler
// starting (timestamped in the handler, on the worker). The caller waits for each call with
// yield() before submitting the next, as a thread with other work would. range(0): calls of
// clock.sleep(3000) started first, which hold a thread each for 3 s (issue 13: one slow tool
// must not delay another; the pool's two workers are both blocked, extra threads take the rest).
void BM_host_call_latency(benchmark::State& state) {
    host h(bench_config(2));
    h.load_plugins();
    h.start({});
    const auto blocked = state.range(0);
    std::atomic<int> slept{0};
    for (int i = 0; i < blocked; ++i)
        h.async_call("clock", "sleep", json::object{{"ms", 3000}}, {}, [&](call_result) { slept.fetch_add(1); });
    if (blocked > 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));  // the sleeps hold their threads
    std::vector<double> samples;
    samples.reserve(1 << 20);
    std::atomic<int64_t> completed_at{0};
    for (auto _ : state) {
        completed_at.store(0, std::memory_order_relaxed);
        const auto t0 = std::chrono::steady_clock::now();
        h.async_call("echo", "echo", json::object{}, {}, [&](call_result r) {
            benchmark::DoNotOptimize(r);
            completed_at.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_release);
        });
        int64_t t1 = 0;
        while ((t1 = completed_at.load(std::memory_order_acquire)) == 0) std::this_thread::yield();
        samples.push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::duration(t1) - t0.time_since_epoch())
                .count());
    }
    std::sort(samples.begin(), samples.end());
    if (!samples.empty()) {
        state.counters["p50_us"] = samples[samples.size() / 2];
        state.counters["p99_us"] = samples[samples.size() * 99 / 100];
    }
    state.SetItemsProcessed(state.iterations());
    if (blocked > 0) state.counters["sleeps_done_during"] = slept.load();  // 0: they held their threads throughout
}
BENCHMARK(BM_host_call_latency)->UseRealTime()->Arg(0)->MinTime(2.0);
// Within the sleeps' 3 s: a fixed number of calls.
BENCHMARK(BM_host_call_latency)->UseRealTime()->Arg(10)->Iterations(20000);

// The inline path (host::call_inline): the whole pipeline on the calling thread with the default
// policy (total and attempt deadlines, retry, circuit breaker, bulkhead, retry budget), metrics
// on, logging off, no tracing. Reports heap allocations per call.
void BM_host_call_inline(benchmark::State& state) {
    host h(bench_config(2));
    h.load_plugins();
    h.start({});
    auto target = h.resolve("echo", "echo").value();
    const json::value args = json::object{};
    const call_options options;
    for (int i = 0; i < 1000; ++i) (void)h.call_inline(target, args, options);  // warm up the metric shards
    const uint64_t before = t_allocations;
    for (auto _ : state) {
        auto r = h.call_inline(target, args, options);
        benchmark::DoNotOptimize(r);
    }
    state.counters["allocs_per_call"] =
        static_cast<double>(t_allocations - before) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_host_call_inline);

// What checking a result against the operation's output_schema costs (docs/performance.md,
// "Result validation"): the inline path on a tool of this program that answers a fixed result of
// `result_size` members, once without an output_schema (the result is relayed), once with
// {"type":"object"} (the text is checked, nothing built) and once with a schema naming each
// member's type (the result is parsed and validated). range(0): 0, 1 or 2 for the three;
// range(1): members in the result.
class fixed_answer final : public tool_instance {
public:
    explicit fixed_answer(std::string result) : result_(std::move(result)) {}
    void_result initialize(std::string_view, const std::filesystem::path&) override { return {}; }
    call_result invoke(const invocation&) noexcept override { return result_; }
    void cleanup() noexcept override {}

private:
    std::string result_;
};

void BM_host_call_inline_output_schema(benchmark::State& state) {
    const auto members = static_cast<int>(state.range(1));
    std::string result = "{", schema = R"({"type":"object","required":["m0"],"properties":{)";
    for (int i = 0; i < members; ++i) {
        const std::string key = "m" + std::to_string(i);
        result += (i ? "," : "") + ("\"" + key + "\":") + (i % 2 ? "\"value " + key + "\"" : std::to_string(i * 1000));
        schema += (i ? "," : "") + ("\"" + key + "\":") + (i % 2 ? R"({"type":"string"})" : R"({"type":"integer"})");
    }
    result += "}";
    schema += "}}";
    tool_descriptor d;
    d.name = "answer";
    d.version = "1.0";
    d.thread_safe = true;  // as echo: no strand
    std::optional<json_schema> output;
    if (state.range(0) == 1) output = *json_schema::compile_text(R"({"type":"object"})");
    if (state.range(0) == 2) output = *json_schema::compile_text(schema);
    d.operations.push_back({"get", "Answers.", *json_schema::compile_text(R"({"type":"object"})"), std::move(output),
                            TOOLHOST_OPERATION_IDEMPOTENT});
    host h(bench_config(2));
    h.register_factory(make_tool_factory(d, [result] { return std::make_unique<fixed_answer>(result); }));
    h.start({});
    auto target = h.resolve("answer", "get").value();
    const json::value args = json::object{};
    const call_options options;
    for (int i = 0; i < 1000; ++i) (void)h.call_inline(target, args, options);
    for (auto _ : state) {
        auto r = h.call_inline(target, args, options);
        if (!r) state.SkipWithError(r.error().message.c_str());
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_host_call_inline_output_schema)->ArgNames({"schema", "members"})->ArgsProduct({{0, 1, 2}, {2, 16}});

// The adapter alone: a policy with no deadlines, no retries, no breaker, so no timer is armed.
call_policy bare_policy() {
    call_policy p;
    p.timeout.reset();
    p.attempt_timeout.reset();
    p.retry.max_attempts = 1;
    p.breaker_enabled = false;
    p.bulkhead.max_concurrent = 1 << 20;  // no limit: calls queue in the worker pool only
    p.bulkhead.max_queue = 0;
    return p;
}

// Many concurrent callers: `outstanding` calls are kept in flight; each completion submits the
// next. Items/s is calls completed per second of wall time. range(1) = 1: the bare policy.
void BM_host_call_throughput(benchmark::State& state) {
    const auto outstanding = static_cast<int>(state.range(0));
    host_options options{bench_config(2), {},     state.range(1) ? bare_policy() : call_policy{}, nullptr, nullptr,
                         nullptr,         nullptr};
    host h(std::move(options));
    h.load_plugins();
    h.start({});
    constexpr int64_t calls_per_iteration = 100000;
    for (auto _ : state) {
        std::atomic<int64_t> remaining{calls_per_iteration};
        std::atomic<int64_t> completed{0};
        std::atomic<bool> all_done{false};
        std::function<void()> submit;
        submit = [&] {
            h.async_call("echo", "echo", json::object{}, {}, [&](call_result r) {
                benchmark::DoNotOptimize(r);
                if (completed.fetch_add(1, std::memory_order_acq_rel) + 1 == calls_per_iteration) {
                    all_done.store(true, std::memory_order_release);
                    all_done.notify_one();
                }
                if (remaining.fetch_sub(1, std::memory_order_relaxed) > outstanding) submit();
            });
        };
        for (int i = 0; i < outstanding; ++i) submit();
        // Asleep, not spinning: on a 2-core machine a spinning observer takes a core's share
        // from the two workers it measures.
        all_done.wait(false, std::memory_order_acquire);
    }
    state.SetItemsProcessed(state.iterations() * calls_per_iteration);
}
BENCHMARK(BM_host_call_throughput)
    ->ArgNames({"outstanding", "bare"})
    ->ArgsProduct({{1, 16, 256}, {0, 1}})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
