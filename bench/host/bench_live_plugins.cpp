// The live plugin folder (issue 14): how long from a new build renamed over a plugin file to the
// new generation answering, through host::sync_plugins() alone and through the folder watcher
// (inotify and its quiet period, as `toolhost serve` runs it); and calls per second while the
// tool is replaced every 100 ms against the same load with no replace, measured in the same run.
// The tool is the bundled no-op `echo`, deployed as a copy (each copy is a new build to the host),
// in process and isolated.
#include <toolhost/host.hpp>
#include <toolhost/serve/plugin_watcher.hpp>

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <memory>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace toolhost;
using steady = std::chrono::steady_clock;

namespace {

struct live_folder {
    fs::path root = fs::temp_directory_path() / ("toolhost-bench-live-" + std::to_string(::getpid()));
    fs::path plugins = root / "plugins";
    std::unique_ptr<host> h;
    int copies = 0;

    explicit live_folder(isolation_mode mode) {
        fs::remove_all(root);
        fs::create_directories(plugins);
        deploy();
        auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
        c.plugin_dirs = {plugins};
        c.data_dir = root / "var";
        c.threads = 4;
        c.log_level = "off";
        c.isolation.mode = mode;
        h = std::make_unique<host>(std::move(c));
        h->load_plugins();
        if (!h->start({}).ok()) h.reset();
    }
    ~live_folder() {
        h.reset();
        fs::remove_all(root);
    }
    // A new build as an operator deploys one: a copy next to the file, renamed over it.
    void deploy() {
        const auto staged = plugins / (".echo.so." + std::to_string(++copies));
        fs::copy_file(fs::path(TOOLHOST_BENCH_PLUGIN_DIR) / "echo.so", staged, fs::copy_options::overwrite_existing);
        fs::permissions(staged, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                    fs::perms::others_read | fs::perms::others_exec);
        fs::rename(staged, plugins / "echo.so");
    }
    uint64_t generation() const { return h->status("echo")->generation; }
    bool answers() const { return h->call("echo", "echo", json::object{{"x", 1}}).has_value(); }
};

// Rename, sync, then the first call of the new generation.
void BM_rename_to_new_generation_answering(benchmark::State& state, isolation_mode mode) {
    live_folder f(mode);
    if (!f.h) return state.SkipWithError("the host did not start");
    for (auto _ : state) {
        const auto before = f.generation();
        const auto t0 = steady::now();
        f.deploy();
        f.h->sync_plugins();
        while (f.generation() == before || !f.answers()) std::this_thread::yield();
        state.SetIterationTime(std::chrono::duration<double>(steady::now() - t0).count());
    }
}
BENCHMARK_CAPTURE(BM_rename_to_new_generation_answering, in_process, isolation_mode::in_process)
    ->UseManualTime()
    ->Iterations(30)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_rename_to_new_generation_answering, isolated, isolation_mode::process)
    ->UseManualTime()
    ->Iterations(30)
    ->Unit(benchmark::kMillisecond);

// The same through the watcher as `toolhost serve` runs it (serve's defaults: 200 ms quiet period).
void BM_rename_to_answering_through_the_watcher(benchmark::State& state, isolation_mode mode) {
    live_folder f(mode);
    if (!f.h) return state.SkipWithError("the host did not start");
    serve::plugin_watcher watcher(*f.h, {f.plugins}, {});
    if (!watcher.watching()) return state.SkipWithError("inotify is not available");
    for (auto _ : state) {
        const auto before = f.generation();
        const auto t0 = steady::now();
        f.deploy();
        while (f.generation() == before || !f.answers()) std::this_thread::sleep_for(std::chrono::microseconds(200));
        state.SetIterationTime(std::chrono::duration<double>(steady::now() - t0).count());
    }
}
BENCHMARK_CAPTURE(BM_rename_to_answering_through_the_watcher, in_process, isolation_mode::in_process)
    ->UseManualTime()
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_rename_to_answering_through_the_watcher, isolated, isolation_mode::process)
    ->UseManualTime()
    ->Iterations(10)
    ->Unit(benchmark::kMillisecond);

// Four threads call as fast as they can; half-second windows alternate between no replace and a
// new build deployed and synced every 100 ms, so that both rates come from the same stretch of
// time (a VM's speed drifts over seconds). Counters: calls/s of each, their ratio, failed calls.
void BM_calls_per_second_while_replaced(benchmark::State& state, isolation_mode mode) {
    live_folder f(mode);
    if (!f.h) return state.SkipWithError("the host did not start");
    std::atomic<bool> stop{false};
    std::atomic<long> ok{0}, bad{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i)
        threads.emplace_back([&] {
            while (!stop.load(std::memory_order_relaxed))
                (f.answers() ? ok : bad).fetch_add(1, std::memory_order_relaxed);
        });
    double steady_calls = 0, steady_s = 0, replacing_calls = 0, replacing_s = 0;
    for (auto _ : state) {
        const auto started = steady::now();
        for (const bool replacing : {false, true}) {
            const long before = ok.load();
            const auto t0 = steady::now();
            while (steady::now() - t0 < std::chrono::milliseconds(500)) {
                std::this_thread::sleep_for(std::chrono::milliseconds(100));
                if (replacing) {
                    f.deploy();
                    f.h->sync_plugins();
                }
            }
            const double s = std::chrono::duration<double>(steady::now() - t0).count();
            (replacing ? replacing_calls : steady_calls) += static_cast<double>(ok.load() - before);
            (replacing ? replacing_s : steady_s) += s;
        }
        state.SetIterationTime(std::chrono::duration<double>(steady::now() - started).count());
    }
    stop = true;
    for (auto& t : threads) t.join();
    state.counters["steady_calls_per_s"] = steady_calls / steady_s;
    state.counters["replacing_calls_per_s"] = replacing_calls / replacing_s;
    state.counters["ratio"] = (replacing_calls / replacing_s) / (steady_calls / steady_s);
    state.counters["failed"] = static_cast<double>(bad.load());
    state.counters["generations"] = static_cast<double>(f.generation());
}
BENCHMARK_CAPTURE(BM_calls_per_second_while_replaced, in_process, isolation_mode::in_process)
    ->UseManualTime()
    ->Iterations(6)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_calls_per_second_while_replaced, isolated, isolation_mode::process)
    ->UseManualTime()
    ->Iterations(6)
    ->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
