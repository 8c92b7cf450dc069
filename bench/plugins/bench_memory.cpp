// The memory tool through the real host: what a store costs with synchronous=FULL and NORMAL,
// and what a recall costs (with and without a query) as a session grows, with many more
// memories of other sessions in the same file. Data lives in a fresh folder under $TMPDIR (or
// /tmp), so the file system there decides the fsync cost of FULL.
#include <toolhost/host.hpp>

#include "bench_support.hpp"

#include <toolhost_plugins/sqlite.hpp>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace fs = std::filesystem;
namespace json = boost::json;
namespace sqlite = toolhost::plugins::sqlite;

namespace {

// A scratch folder removed at the end of a benchmark.
using toolhost::bench::scratch_dir;

std::unique_ptr<toolhost::host> start_memory(const fs::path& data, const char* synchronous) {
    auto c = *toolhost::default_config([](std::string_view) { return std::optional<std::string>(); });
    c.plugin_dirs = {TOOLHOST_BENCH_PLUGIN_DIR};
    c.data_dir = data;
    c.threads = 2;
    c.log_level = "off";
    toolhost::tool_settings memory;
    memory.pointer = "/tools/memory";
    memory.config = json::object{{"seed_sample", false}, {"synchronous", synchronous}};
    c.tools["memory"] = memory;
    auto h = std::make_unique<toolhost::host>(std::move(c));
    h->load_plugins();
    if (!h->start({.concurrent = false, .fail_on_error = true, .only = std::vector<std::string>{"memory"}}).ok())
        throw std::runtime_error("the memory tool did not start");
    return h;
}

using toolhost::bench::sentences;

// Fills the file directly (the tool's triggers keep the FTS index right) before the tool starts:
// `in_session` memories in session "bench" and `elsewhere` spread over 500 other sessions.
void fill(const fs::path& data, int in_session, int elsewhere) {
    { auto h = start_memory(data, "normal"); }  // creates the schema
    auto db = sqlite::database::open(data / "memory" / "memory.db");
    sqlite::transaction tx(db);
    auto st = db.prepare(
        "INSERT INTO memories (session_id, kind, content, importance, created_at) VALUES (?, 'fact', ?, ?, ?)");
    sentences text;
    const int64_t now = 1714564800000;
    for (int i = 0; i < in_session + elsewhere; ++i) {
        const std::string session = i < in_session ? "bench" : "other-" + std::to_string(i % 500);
        st.bind(1, session).bind(2, text.next()).bind(3, (i % 10) / 10.0).bind(4, now - int64_t{i} * 60000);
        st.run();
        st.reset();
    }
    tx.commit();
}

void BM_store(benchmark::State& state) {
    scratch_dir dir("memory");
    auto h = start_memory(dir.path, state.range(0) ? "full" : "normal");
    sentences text;
    int64_t n = 0;
    for (auto _ : state) {
        auto r = h->call("memory", "store", {{"session_id", "bench"}, {"content", text.next()}, {"importance", 0.5}});
        if (!r) {
            state.SkipWithError(r.error().to_string().c_str());
            break;
        }
        ++n;
    }
    state.SetItemsProcessed(n);
}
BENCHMARK(BM_store)->ArgName("full")->Arg(0)->Arg(1)->UseRealTime()->Unit(benchmark::kMicrosecond);

void BM_recall(benchmark::State& state) {
    scratch_dir dir("memory");
    const auto in_session = static_cast<int>(state.range(1));
    fill(dir.path, in_session, 50000);
    auto h = start_memory(dir.path, "full");
    const bool with_query = state.range(0) != 0;
    sentences queries;
    for (auto _ : state) {
        json::object args{{"session_id", "bench"}, {"limit", 10}, {"now", "2024-05-01T12:00:00Z"}};
        if (with_query) args["query"] = queries.next().substr(0, 10);  // one or two words
        auto r = h->call("memory", "recall", std::move(args));
        if (!r) {
            state.SkipWithError(r.error().to_string().c_str());
            break;
        }
        benchmark::DoNotOptimize(r);
    }
    state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_recall)
    ->ArgNames({"query", "session_size"})
    ->ArgsProduct({{1, 0}, {1000, 10000}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
