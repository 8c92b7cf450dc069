// The escalation tool through the real host: what evaluate costs as the message grows (every
// lexicon phrase is searched in the normalized message), and what create_ticket costs for a new
// ticket (one BEGIN IMMEDIATE transaction, synchronous=NORMAL) and for a replay of a known
// idempotency key (one indexed read). Data lives in a fresh folder under $TMPDIR (or /tmp).
#include <toolhost/host.hpp>

#include "bench_support.hpp"

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// A scratch folder removed at the end of a benchmark.
using toolhost::bench::scratch_dir;

std::unique_ptr<toolhost::host> start_escalation(const fs::path& data) {
    auto c = *toolhost::default_config([](std::string_view) { return std::optional<std::string>(); });
    c.plugin_dirs = {TOOLHOST_BENCH_PLUGIN_DIR};
    c.data_dir = data;
    c.threads = 2;
    c.log_level = "off";
    toolhost::tool_settings escalation;
    escalation.pointer = "/tools/escalation";
    escalation.config = json::object{{"sample_data", false}};
    c.tools["escalation"] = escalation;
    auto h = std::make_unique<toolhost::host>(std::move(c));
    h->load_plugins();
    if (!h->start({.concurrent = false, .fail_on_error = true, .only = std::vector<std::string>{"escalation"}}).ok())
        throw std::runtime_error("the escalation tool did not start");
    return h;
}

// A customer message of about `bytes` bytes that ends with a request for a human.
std::string message_of(size_t bytes) {
    static const std::string filler = "I tried the steps from the help article but the export still fails. ";
    std::string m;
    while (m.size() + filler.size() < bytes) m += filler;
    return m + "This is useless, can I talk to a person?";
}

void bm_evaluate(benchmark::State& state) {
    scratch_dir dir("escalation");
    auto h = start_escalation(dir.path);
    const json::object args{{"message", message_of(static_cast<size_t>(state.range(0)))},
                            {"context", {{"failed_attempts", 1}, {"customer_tier", "enterprise"}}}};
    for (auto _ : state) {
        auto r = h->call("escalation", "evaluate", args);
        if (!r) state.SkipWithError(r.error().to_string().c_str());
        benchmark::DoNotOptimize(r);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(bm_evaluate)->Arg(100)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

void bm_create_ticket(benchmark::State& state) {
    scratch_dir dir("escalation");
    auto h = start_escalation(dir.path);
    int64_t n = 0;
    for (auto _ : state) {
        const json::object args{{"customer", "C-1003"},
                                {"subject", "Refund for a double charge"},
                                {"idempotency_key", "bench-" + std::to_string(n++)}};
        auto r = h->call("escalation", "create_ticket", args);
        if (!r) state.SkipWithError(r.error().to_string().c_str());
    }
}
BENCHMARK(bm_create_ticket)->Unit(benchmark::kMicrosecond);

void bm_create_ticket_replay(benchmark::State& state) {
    scratch_dir dir("escalation");
    auto h = start_escalation(dir.path);
    const json::object args{{"customer", "C-1003"}, {"subject", "Refund"}, {"idempotency_key", "same-key"}};
    if (!h->call("escalation", "create_ticket", args)) state.SkipWithError("first create failed");
    for (auto _ : state) {
        auto r = h->call("escalation", "create_ticket", args);
        if (!r) state.SkipWithError(r.error().to_string().c_str());
    }
}
BENCHMARK(bm_create_ticket_replay)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
