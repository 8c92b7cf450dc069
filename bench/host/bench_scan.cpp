// Scanning a plugin folder of 100 files (copies of the bundled echo plugin under different
// names): cold, every file opened in the scanner child (toolhost-worker), and cached, answered
// from the scan cache without opening any file. Goals (issue 13): cached < 10 ms, cold < 500 ms.
// For comparison, opening the same 100 files in this process, as the host did before it scanned
// in a child (each library's constructors and init() run here).
#include <toolhost/plugin_library.hpp>
#include <toolhost/plugin_loader.hpp>

#include <benchmark/benchmark.h>

#include <unistd.h>

#include <filesystem>
#include <string>

namespace fs = std::filesystem;
using namespace toolhost;

namespace {

constexpr int files = 100;

// A fresh folder with `files` copies of echo.so (mode 0755), removed at exit.
struct plugin_folder {
    fs::path dir;
    explicit plugin_folder(const std::string& name) {
        dir = fs::temp_directory_path() / ("toolhost-bench-scan-" + name + "-" + std::to_string(::getpid()));
        fs::remove_all(dir);
        fs::create_directories(dir / "plugins");
        fs::permissions(dir, fs::perms::owner_all);
        for (int i = 0; i < files; ++i) {
            const auto copy = dir / "plugins" / ("echo_" + std::to_string(i) + ".so");
            fs::copy_file(fs::path(TOOLHOST_BENCH_PLUGIN_DIR) / "echo.so", copy);
            fs::permissions(copy, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                      fs::perms::others_read | fs::perms::others_exec);
        }
    }
    ~plugin_folder() { fs::remove_all(dir); }
    fs::path plugins() const { return dir / "plugins"; }
};

void check(benchmark::State& state, const load_report& r) {
    if (r.plugins.size() != static_cast<std::size_t>(files) || !r.rejected.empty())
        state.SkipWithError(("scanned " + std::to_string(r.plugins.size()) + " files, " +
                             std::to_string(r.rejected.size()) + " rejected")
                                .c_str());
}

void BM_scan_cold(benchmark::State& state) {
    plugin_folder f("cold");
    const plugin_loader loader;  // no cache: every scan opens every file in a child
    for (auto _ : state) {
        auto r = loader.scan({f.plugins()});
        check(state, r);
        benchmark::DoNotOptimize(r);
    }
    state.counters["files"] = files;
}
BENCHMARK(BM_scan_cold)->Unit(benchmark::kMillisecond)->Iterations(5);

void BM_scan_cached(benchmark::State& state) {
    plugin_folder f("cached");
    plugin_loader::options o;
    o.scan_cache = f.dir / "scan-cache.json";
    const plugin_loader loader(o);
    check(state, loader.scan({f.plugins()}));  // fills the cache
    for (auto _ : state) {
        auto r = loader.scan({f.plugins()});
        check(state, r);
        if (!r.plugins.empty() && !r.plugins.front().from_cache) state.SkipWithError("not answered by the cache");
        benchmark::DoNotOptimize(r);
    }
    state.counters["files"] = files;
}
BENCHMARK(BM_scan_cached)->Unit(benchmark::kMillisecond);

// The old way, once: the 100 libraries opened here (dlopen keeps them; a second round would only
// find them loaded).
void BM_open_in_process(benchmark::State& state) {
    plugin_folder f("inproc");
    for (auto _ : state) {
        for (int i = 0; i < files; ++i) {
            auto lib = plugin_library::open(f.plugins() / ("echo_" + std::to_string(i) + ".so"));
            if (!lib) state.SkipWithError(lib.error().c_str());
            benchmark::DoNotOptimize(lib);
        }
    }
    state.counters["files"] = files;
}
BENCHMARK(BM_open_in_process)->Unit(benchmark::kMillisecond)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
