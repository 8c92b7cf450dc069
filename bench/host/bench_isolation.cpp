// Tools in worker processes (issue 13): an isolated call's round trip against a raw
// SOCK_SEQPACKET round trip between two processes measured in the same run, throughput through
// one worker with 16 calls in flight, and how long a worker takes from spawn to ready and from a
// kill to its replacement being ready. The tool is the bundled no-op `echo` plugin.
//
// Run it once as it is (the kernel puts the processes where it likes: on a 2-vCPU machine the
// two ends of a round trip mostly sit on different vCPUs) and once under `taskset -c 0` (every
// thread of both processes on one vCPU; children inherit the affinity).
#include <toolhost/host.hpp>

#include <benchmark/benchmark.h>

#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <memory>
#include <thread>

namespace json = boost::json;
using namespace toolhost;
using steady = std::chrono::steady_clock;

namespace {

host_config bench_config(isolation_mode mode) {
    auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
    c.plugin_dirs = {TOOLHOST_BENCH_PLUGIN_DIR};
    c.data_dir = std::filesystem::temp_directory_path() / "toolhost-bench-isolation";
    c.threads = 2;
    c.log_level = "off";
    c.tools_enabled_by_default = false;
    tool_settings echo;
    echo.isolation.mode = mode;
    c.tools.emplace("echo", std::move(echo));
    return c;
}

std::unique_ptr<host> started(isolation_mode mode) {
    auto h = std::make_unique<host>(bench_config(mode));
    h->load_plugins();
    if (!h->start({}).ok()) return nullptr;
    return h;
}

// A child process that sends every datagram it receives back: the floor for any message-based
// round trip between two processes.
void BM_raw_socketpair_round_trip(benchmark::State& state) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) {
        state.SkipWithError("socketpair failed");
        return;
    }
    const pid_t child = ::fork();
    if (child == 0) {
        ::close(sv[0]);
        char buf[256];
        for (;;) {
            const ssize_t n = ::recv(sv[1], buf, sizeof buf, 0);
            if (n <= 0 || ::send(sv[1], buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) ::_exit(0);
        }
    }
    ::close(sv[1]);
    char msg[64] = {};  // about a call message's size for echo: header plus a few fields
    for (auto _ : state) {
        if (::send(sv[0], msg, sizeof msg, MSG_NOSIGNAL) != sizeof msg || ::recv(sv[0], msg, sizeof msg, 0) <= 0) {
            state.SkipWithError("round trip failed");
            break;
        }
    }
    ::close(sv[0]);
    ::waitpid(child, nullptr, 0);
}
BENCHMARK(BM_raw_socketpair_round_trip)->UseRealTime();

// One caller, one call at a time, on the caller's thread (call_inline): in process, and in a
// worker process.
void call_one_at_a_time(benchmark::State& state, isolation_mode mode) {
    auto h = started(mode);
    if (!h) {
        state.SkipWithError("echo did not start");
        return;
    }
    const json::value args = json::object{};
    for (auto _ : state) {
        auto r = h->call_inline("echo", "echo", args);
        if (!r) {
            state.SkipWithError(r.error().message.c_str());
            break;
        }
    }
}
void BM_in_process_call(benchmark::State& state) { call_one_at_a_time(state, isolation_mode::in_process); }
void BM_isolated_call(benchmark::State& state) { call_one_at_a_time(state, isolation_mode::process); }
BENCHMARK(BM_in_process_call)->UseRealTime();
BENCHMARK(BM_isolated_call)->UseRealTime();

// 16 callers at once into one worker (echo is thread-safe: the worker runs them concurrently).
std::unique_ptr<host> shared_host;
void BM_isolated_calls_16_in_flight(benchmark::State& state) {
    if (state.thread_index() == 0) shared_host = started(isolation_mode::process);
    // Google Benchmark starts every thread's loop together, after the setup above.
    const json::value args = json::object{};
    for (auto _ : state) {
        if (!shared_host) {
            state.SkipWithError("echo did not start");
            break;
        }
        auto r = shared_host->call_inline("echo", "echo", args);
        if (!r) {
            state.SkipWithError(r.error().message.c_str());
            break;
        }
    }
    state.SetItemsProcessed(state.iterations());
    if (state.thread_index() == 0) shared_host.reset();
}
BENCHMARK(BM_isolated_calls_16_in_flight)->Threads(16)->UseRealTime();

// restart_tool: the old worker stops (stop message, cleanup(), exit) and a new one is spawned,
// loads the library and initializes. The halves are timed apart through the worker_exited and
// worker_started events and reported as counters (milliseconds, averaged over the iterations).
void BM_worker_restart(benchmark::State& state) {
    std::atomic<steady::rep> exited{0}, ready{0};  // before the host: its shutdown still sends events
    auto h = started(isolation_mode::process);
    if (!h) {
        state.SkipWithError("echo did not start");
        return;
    }
    h->subscribe([&](const host_event& e) {
        if (e.kind == host_event_kind::worker_exited) exited = steady::now().time_since_epoch().count();
        if (e.kind == host_event_kind::worker_started) ready = steady::now().time_since_epoch().count();
    });
    double stop_ns = 0, spawn_to_ready_ns = 0;
    for (auto _ : state) {
        const auto before = steady::now().time_since_epoch().count();
        auto r = h->restart_tool("echo");
        if (!r) {
            state.SkipWithError(r.error().message.c_str());
            break;
        }
        stop_ns += static_cast<double>(exited.load() - before);
        spawn_to_ready_ns += static_cast<double>(ready.load() - exited.load());
    }
    const double n = static_cast<double>(state.iterations()) * 1e6;
    state.counters["stop_ms"] = stop_ns / n;
    state.counters["spawn_to_ready_ms"] = spawn_to_ready_ns / n;
}
BENCHMARK(BM_worker_restart)->UseRealTime()->Unit(benchmark::kMillisecond);

// Kill to ready: SIGKILL the worker, time until its replacement is ready. A crash is followed by
// the restart backoff (100 ms for the first, doubling for the next ones within a minute), which
// this includes: one iteration, the first kill.
void BM_worker_kill_to_ready(benchmark::State& state) {
    auto h = started(isolation_mode::process);
    if (!h) {
        state.SkipWithError("echo did not start");
        return;
    }
    for (auto _ : state) {
        const auto pid = h->status("echo")->worker->pid;
        ::kill(static_cast<pid_t>(pid), SIGKILL);
        for (;;) {
            auto w = h->status("echo")->worker;
            if (w->pid != 0 && w->pid != pid && w->state == "running") break;
            std::this_thread::sleep_for(std::chrono::microseconds(50));
        }
    }
}
BENCHMARK(BM_worker_kill_to_ready)->UseRealTime()->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
