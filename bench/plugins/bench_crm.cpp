// The crm tool through the real host, SQLite backend: get_customer by id, e-mail and phone
// (indexed lookups, normalization included), and search, which scans name, e-mail and company
// with LIKE, as the customer table grows. Customers are added through upsert before timing, in
// a fresh folder under $TMPDIR (or /tmp).
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

using toolhost::bench::scratch_dir;

// A host with the crm tool and `customers` customers (the sample's ten plus generated ones).
std::unique_ptr<toolhost::host> start_crm(const fs::path& data, int customers) {
    auto c = *toolhost::default_config([](std::string_view) { return std::optional<std::string>(); });
    c.plugin_dirs = {TOOLHOST_BENCH_PLUGIN_DIR};
    c.data_dir = data;
    c.threads = 2;
    c.log_level = "off";
    toolhost::tool_settings crm;
    crm.pointer = "/tools/crm";
    crm.config = json::object{{"sample_data", true}};
    c.tools["crm"] = crm;
    auto h = std::make_unique<toolhost::host>(std::move(c));
    h->load_plugins();
    if (!h->start({.concurrent = false, .fail_on_error = true, .only = std::vector<std::string>{"crm"}}).ok())
        throw std::runtime_error("the crm tool did not start");
    for (int i = 10; i < customers; ++i) {
        const std::string n = std::to_string(i);
        auto r = h->call("crm", "upsert",
                         json::object{{"email", "user" + n + "@example.com"},
                                      {"name", "Customer " + n},
                                      {"phone", "+1 202 555 " + std::to_string(100000 + i).substr(1)},
                                      {"company", "Company " + std::to_string(i % 97)}});
        if (!r) throw std::runtime_error(r.error().to_string());
    }
    return h;
}

void run(benchmark::State& state, toolhost::host& h, const char* op, const json::object& args) {
    for (auto _ : state) {
        auto r = h.call("crm", op, args);
        if (!r) state.SkipWithError(r.error().to_string().c_str());
        benchmark::DoNotOptimize(r);
    }
}

void bm_get_by_id(benchmark::State& state) {
    scratch_dir dir("crm");
    auto h = start_crm(dir.path, static_cast<int>(state.range(0)));
    run(state, *h, "get_customer", json::object{{"id", "C-1003"}});
}
BENCHMARK(bm_get_by_id)->Arg(10)->Arg(10000)->Unit(benchmark::kMicrosecond);

void bm_get_by_email(benchmark::State& state) {
    scratch_dir dir("crm");
    auto h = start_crm(dir.path, static_cast<int>(state.range(0)));
    run(state, *h, "get_customer", json::object{{"email", "Alan@Bletchley.example"}});
}
BENCHMARK(bm_get_by_email)->Arg(10)->Arg(10000)->Unit(benchmark::kMicrosecond);

void bm_get_by_phone(benchmark::State& state) {
    scratch_dir dir("crm");
    auto h = start_crm(dir.path, static_cast<int>(state.range(0)));
    run(state, *h, "get_customer", json::object{{"phone", "+44 (1908) 640-103"}});
}
BENCHMARK(bm_get_by_phone)->Arg(10)->Arg(10000)->Unit(benchmark::kMicrosecond);

void bm_search(benchmark::State& state) {
    scratch_dir dir("crm");
    auto h = start_crm(dir.path, static_cast<int>(state.range(0)));
    run(state, *h, "search", json::object{{"query", "company 42"}, {"limit", 20}});
}
BENCHMARK(bm_search)->Arg(10)->Arg(1000)->Arg(10000)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
