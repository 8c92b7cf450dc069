// What each stateful operation of the memory, escalation, crm and rag tools costs per call on
// PostgreSQL against SQLite, in the same run, through the real host (host::call). Every
// benchmark exists once per storage, the storage last in its name:
//
//   sqlite            the tools' defaults: WAL, synchronous FULL for memory (an fsync per store),
//                     NORMAL for escalation and crm (no fsync at commit), in a fresh folder under
//                     $TMPDIR (or /tmp)
//   postgresql        a throwaway cluster (tests/support/postgres_cluster.hpp) on 127.0.0.1 over
//                     TCP: fsync off, full_page_writes off, synchronous_commit on, shared_buffers
//                     16MB; one database per tool
//   postgresql_fsync  a second such cluster switched to fsync on and full_page_writes on
//                     (ALTER SYSTEM, then a reload) once its data is in: commits wait for the disk
//
// Each storage is filled once, before its first benchmark, through the tools (with memory at
// synchronous NORMAL and PostgreSQL's fsync off while filling), and kept for the whole run:
// memory 1,000 memories in session "bench" and 4,000 in 100 other sessions; escalation 1,000
// tickets; crm the ten sample customers and 990 more; rag its bundled sample (14 documents) and
// 500 texts of 12 sentences. Writes add to it as the run goes.
//
// Counters: host_cpu_us is the CPU time of this process per call (the host, the tool in
// process, SQLite, libpq, and the benchmark's own thread); db_cpu_us is the PostgreSQL server's
// (the postmaster and all its children) per call. When no PostgreSQL server can be started, or
// this build has no tests/support, the PostgreSQL benchmarks are skipped with the reason.
#include <toolhost/host.hpp>

#include "bench_support.hpp"

#if TOOLHOST_BENCH_POSTGRES_CLUSTER
#include "postgres_cluster.hpp"
#endif

#include <sys/resource.h>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <boost/json.hpp>

#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

using toolhost::bench::scratch_dir;

enum class backend { sqlite, postgresql, postgresql_fsync };

const char* name_of(backend b) {
    switch (b) {
    case backend::sqlite: return "sqlite";
    case backend::postgresql: return "postgresql";
    case backend::postgresql_fsync: return "postgresql_fsync";
    }
    return "?";
}

// ------------------------------------------------------------------------------- CPU accounting

// CPU time (user + system) of this process, in microseconds.
double own_cpu_us() {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return (static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

// The parent of process `pid` and the time it has run on a CPU (/proc/<pid>/schedstat, in
// nanoseconds); nullopt when it is gone.
struct proc_times {
    long ppid = 0;
    double cpu_ns = 0;
};
std::optional<proc_times> times_of(const std::string& pid) {
    std::ifstream stat("/proc/" + pid + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return std::nullopt;
    // The command is in parentheses and may hold spaces: the fields after it are state, ppid...
    const auto close = line.rfind(')');
    if (close == std::string::npos) return std::nullopt;
    std::istringstream rest(line.substr(close + 2));
    std::string state;
    proc_times t;
    std::ifstream schedstat("/proc/" + pid + "/schedstat");
    if (!(rest >> state >> t.ppid) || !(schedstat >> t.cpu_ns)) return std::nullopt;
    return t;
}

// CPU time of a PostgreSQL server, the postmaster `pid` and its children (one process each), in
// microseconds.
double server_cpu_us(long postmaster) {
    double ns = 0;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator("/proc", ec)) {
        const std::string pid = entry.path().filename().string();
        if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) continue;
        const auto t = times_of(pid);
        if (t && (std::stol(pid) == postmaster || t->ppid == postmaster)) ns += t->cpu_ns;
    }
    return ns / 1000;
}

// ------------------------------------------------------------------------------------ the data

using toolhost::bench::sentences;

constexpr int memories_in_session = 1000;
constexpr int memories_elsewhere = 4000;
constexpr int tickets = 1000;
constexpr int customers = 1000;  // the sample's ten included
constexpr int rag_texts = 500;   // besides the bundled sample

// A text for rag of 12 sentences (about 150 words): one chunk or two.
std::string rag_text(sentences& text) {
    std::string t;
    for (int i = 0; i < 12; ++i) t += text.next() + ". ";
    return t;
}
const std::string replay_content = "The customer prefers e-mail over phone calls.";

json::value parse(const toolhost::call_result& r) { return json::parse(r.value()); }

toolhost::call_result must(toolhost::call_result r, const char* what) {
    if (!r) throw std::runtime_error(std::string(what) + ": " + r.error().to_string());
    return r;
}

// ------------------------------------------------------------------------------------ a storage

// One storage with the three tools on it, filled, and a host to call them, for the whole run.
struct world {
    backend kind = backend::sqlite;
    std::string error;  // not empty: the storage could not be set up; its benchmarks skip with this
    std::unique_ptr<scratch_dir> dir;
#if TOOLHOST_BENCH_POSTGRES_CLUSTER
    std::unique_ptr<toolhost::test::postgres_cluster> pg;
#endif
    long postmaster = 0;  // the PostgreSQL server's pid, for db_cpu_us
    std::unique_ptr<toolhost::host> host;

    int64_t memory_id = 0;      // a memory of session "bench", for get
    int64_t ticket_id = 0;      // a ticket with its one history event, for get_ticket
    int64_t moving_ticket = 0;  // the ticket update_status moves between open and in_progress
    bool moving_is_open = true;
    int64_t next_key = 0;  // fresh idempotency keys and e-mail addresses, unique for the run

    ~world() {
        host.reset();  // before its database goes
    }
};

// The tools' configuration on `w`'s storage; `filling`: memory at synchronous NORMAL.
std::map<std::string, json::object> tool_configs(const world& w, bool filling) {
    std::map<std::string, json::object> c{{"memory", {{"sample_data", false}}},
                                          {"escalation", {{"sample_data", false}}},
                                          {"crm", {{"sample_data", true}}},
                                          {"rag", {{"sample_data", true}}}};
    for (auto& [tool, config] : c) {
#if TOOLHOST_BENCH_POSTGRES_CLUSTER
        // "storage" always, so that TOOLHOST_DATABASE_URL in the environment changes nothing.
        config["storage"] = w.pg ? json::value(w.pg->url(tool)) : json::value("sqlite");
#else
        config["storage"] = "sqlite";
#endif
    }
    if (filling && w.kind == backend::sqlite) c["memory"]["synchronous"] = "normal";
    return c;
}

std::unique_ptr<toolhost::host> start_host(const world& w, bool filling) {
    auto c = *toolhost::default_config([](std::string_view) { return std::optional<std::string>(); });
    c.plugin_dirs = {TOOLHOST_BENCH_PLUGIN_DIR};
    c.data_dir = w.dir->path;
    c.threads = 2;
    c.log_level = "off";
    std::vector<std::string> only;
    for (auto& [tool, config] : tool_configs(w, filling)) {
        toolhost::tool_settings s;
        s.pointer = "/tools/" + tool;
        s.config = std::move(config);
        c.tools[tool] = std::move(s);
        only.push_back(tool);
    }
    auto h = std::make_unique<toolhost::host>(std::move(c));
    h->load_plugins();
    const auto started = h->start({.concurrent = false, .fail_on_error = true, .only = only});
    if (!started.ok()) {
        std::string why = "the tools did not start on " + std::string(name_of(w.kind)) + ":";
        for (const auto& [tool, e] : started.failed) why += " " + tool + ": " + e.to_string();
        throw std::runtime_error(why);
    }
    return h;
}

void fill(world& w, toolhost::host& h) {
    sentences text;
    for (int i = 0; i < memories_in_session + memories_elsewhere; ++i) {
        const std::string session = i < memories_in_session ? "bench" : "other-" + std::to_string(i % 100);
        auto r = must(
            h.call("memory", "store",
                   json::object{{"session_id", session}, {"content", text.next()}, {"importance", (i % 10) / 10.0}}),
            "memory.store");
        if (i == memories_in_session / 2) w.memory_id = parse(r).as_object().at("id").as_int64();
    }
    must(h.call("memory", "store",
                json::object{{"session_id", "bench"}, {"content", replay_content}, {"idempotency_key", "replay-key"}}),
         "memory.store");

    for (int i = 0; i < tickets; ++i) {
        auto r = must(h.call("escalation", "create_ticket",
                             json::object{{"customer", "C-" + std::to_string(1001 + i % 50)},
                                          {"subject", "Refund for a double charge, case " + std::to_string(i)},
                                          {"idempotency_key", "fill-" + std::to_string(i)}}),
                      "escalation.create_ticket");
        const int64_t id = parse(r).as_object().at("ticket").as_object().at("id").as_int64();
        if (i == tickets / 2) w.ticket_id = id;
        if (i == tickets / 2 + 1) w.moving_ticket = id;
    }
    must(h.call("escalation", "create_ticket",
                json::object{{"customer", "C-1003"}, {"subject", "Refund"}, {"idempotency_key", "replay-key"}}),
         "escalation.create_ticket");

    for (int i = 10; i < customers; ++i) {
        const std::string n = std::to_string(i);
        must(h.call("crm", "upsert",
                    json::object{{"email", "user" + n + "@example.com"},
                                 {"name", "Customer " + n},
                                 {"phone", "+1 202 555 " + std::to_string(100000 + i).substr(1)},
                                 {"company", "Company " + std::to_string(i % 97)}}),
             "crm.upsert");
    }

    for (int i = 0; i < rag_texts; ++i)
        must(h.call("rag", "index_text",
                    json::object{{"source", "notes/" + std::to_string(i)}, {"text", rag_text(text)}}),
             "rag.index_text");
}

#if TOOLHOST_BENCH_POSTGRES_CLUSTER
// Sets a server parameter of `pg` (one that a reload applies) and checks that it took.
void set_and_reload(toolhost::test::postgres_cluster& pg, const std::string& name, const std::string& value) {
    pg.psql("ALTER SYSTEM SET " + name + " = " + value);
    pg.psql("SELECT pg_reload_conf()");
    for (int i = 0; i < 100; ++i) {
        if (pg.psql("SHOW " + name) == value) return;
        ::usleep(50000);
    }
    throw std::runtime_error("postgresql: " + name + " did not become " + value + " after a reload");
}

long postmaster_of(toolhost::test::postgres_cluster& pg) {
    std::ifstream f(fs::path(pg.psql("SHOW data_directory")) / "postmaster.pid");
    long pid = 0;
    if (!(f >> pid)) throw std::runtime_error("postgresql: cannot read postmaster.pid");
    return pid;
}
#endif

std::unique_ptr<world> make_world(backend kind) {
    auto w = std::make_unique<world>();
    w->kind = kind;
    try {
        w->dir = std::make_unique<scratch_dir>(std::string("storage-") + name_of(kind));
        if (kind != backend::sqlite) {
#if TOOLHOST_BENCH_POSTGRES_CLUSTER
            if (auto why = toolhost::test::postgres_cluster::unavailable()) throw std::runtime_error(*why);
            w->pg = std::make_unique<toolhost::test::postgres_cluster>();
            for (const char* tool : {"memory", "escalation", "crm", "rag"}) w->pg->create_database(tool);
            w->postmaster = postmaster_of(*w->pg);
#else
            throw std::runtime_error(
                "this build has no tests/support (TOOLHOST_BUILD_TESTS=OFF), so no throwaway PostgreSQL cluster");
#endif
        }
        fill(*w, *start_host(*w, true));
#if TOOLHOST_BENCH_POSTGRES_CLUSTER
        // Statistics and the visibility map as autovacuum would leave them, rather than
        // autovacuum doing it during the first benchmarks.
        if (w->pg)
            for (const char* tool : {"memory", "escalation", "crm", "rag"}) w->pg->psql("VACUUM ANALYZE", tool);
        if (kind == backend::postgresql_fsync) {
            set_and_reload(*w->pg, "fsync", "on");
            set_and_reload(*w->pg, "full_page_writes", "on");
            w->pg->psql("CHECKPOINT");  // what the fill left in memory goes to disk now, not during a benchmark
        }
#endif
        w->host = start_host(*w, false);
    } catch (const std::exception& e) {
        w->error = e.what();
        w->host.reset();
    }
    return w;
}

std::array<std::unique_ptr<world>, 3> worlds;

world& world_of(backend kind) {
    auto& w = worlds[static_cast<size_t>(kind)];
    if (!w) w = make_world(kind);
    return *w;
}

// ------------------------------------------------------------------------------ the benchmarks

// Calls `tool`.`operation` with make_args(i) for i = 0, 1, ... as long as the benchmark runs;
// sets items/s (calls/s), host_cpu_us and, on PostgreSQL, db_cpu_us.
template <class MakeArgs>
void run(benchmark::State& state, backend kind, const char* tool, const char* operation, MakeArgs make_args) {
    world& w = world_of(kind);
    if (!w.error.empty()) {
        state.SkipWithError(w.error.c_str());
        return;
    }
    int64_t n = 0;
    const double cpu0 = own_cpu_us();
    const double db0 = w.postmaster ? server_cpu_us(w.postmaster) : 0;
    for (auto _ : state) {
        auto r = w.host->call(tool, operation, make_args(w, n));
        if (!r) {
            state.SkipWithError(r.error().to_string().c_str());
            return;
        }
        benchmark::DoNotOptimize(r);
        ++n;
    }
    if (n == 0) return;
    const double calls = static_cast<double>(n);
    state.SetItemsProcessed(n);
    state.counters["host_cpu_us"] = (own_cpu_us() - cpu0) / calls;
    if (w.postmaster) state.counters["db_cpu_us"] = (server_cpu_us(w.postmaster) - db0) / calls;
}

// --- memory

void BM_memory_store(benchmark::State& state, backend kind) {
    sentences text;
    run(state, kind, "memory", "store", [&](world&, int64_t) {
        return json::object{{"session_id", "writes"}, {"content", text.next()}, {"importance", 0.5}};
    });
}

void BM_memory_store_replay(benchmark::State& state, backend kind) {
    run(state, kind, "memory", "store", [](world&, int64_t) {
        return json::object{{"session_id", "bench"}, {"content", replay_content}, {"idempotency_key", "replay-key"}};
    });
}

void BM_memory_get(benchmark::State& state, backend kind) {
    run(state, kind, "memory", "get", [](world& w, int64_t) { return json::object{{"id", w.memory_id}}; });
}

void BM_memory_list(benchmark::State& state, backend kind) {
    run(state, kind, "memory", "list", [](world&, int64_t) {
        return json::object{{"session_id", "bench"}, {"limit", 20}};
    });
}

void BM_memory_recall(benchmark::State& state, backend kind) {
    run(state, kind, "memory", "recall", [](world&, int64_t) {
        return json::object{{"session_id", "bench"}, {"limit", 10}};
    });
}

void BM_memory_recall_query(benchmark::State& state, backend kind) {
    sentences queries;
    run(state, kind, "memory", "recall", [&](world&, int64_t) {
        // One or two words.
        return json::object{{"session_id", "bench"}, {"limit", 10}, {"query", queries.next().substr(0, 10)}};
    });
}

// --- escalation

void BM_escalation_create_ticket(benchmark::State& state, backend kind) {
    run(state, kind, "escalation", "create_ticket", [](world& w, int64_t) {
        return json::object{{"customer", "C-1003"},
                            {"subject", "Refund for a double charge"},
                            {"idempotency_key", "bench-" + std::to_string(w.next_key++)}};
    });
}

void BM_escalation_create_ticket_replay(benchmark::State& state, backend kind) {
    run(state, kind, "escalation", "create_ticket", [](world&, int64_t) {
        return json::object{{"customer", "C-1003"}, {"subject", "Refund"}, {"idempotency_key", "replay-key"}};
    });
}

void BM_escalation_get_ticket(benchmark::State& state, backend kind) {
    run(state, kind, "escalation", "get_ticket", [](world& w, int64_t) { return json::object{{"id", w.ticket_id}}; });
}

void BM_escalation_update_status(benchmark::State& state, backend kind) {
    run(state, kind, "escalation", "update_status", [](world& w, int64_t) {
        w.moving_is_open = !w.moving_is_open;
        return json::object{{"id", w.moving_ticket}, {"status", w.moving_is_open ? "open" : "in_progress"}};
    });
}

// --- crm

void BM_crm_upsert_update(benchmark::State& state, backend kind) {
    run(state, kind, "crm", "upsert", [](world&, int64_t n) {
        return json::object{{"email", "user500@example.com"}, {"notes", "Called back, note " + std::to_string(n)}};
    });
}

void BM_crm_upsert_create(benchmark::State& state, backend kind) {
    run(state, kind, "crm", "upsert", [](world& w, int64_t) {
        const std::string n = std::to_string(w.next_key++);
        return json::object{
            {"email", "new" + n + "@example.com"}, {"name", "New customer " + n}, {"company", "Company 7"}};
    });
}

void BM_crm_get_by_id(benchmark::State& state, backend kind) {
    run(state, kind, "crm", "get_customer", [](world&, int64_t) { return json::object{{"id", "C-1003"}}; });
}

void BM_crm_get_by_email(benchmark::State& state, backend kind) {
    run(state, kind, "crm", "get_customer", [](world&, int64_t) {
        return json::object{{"email", "Alan@Bletchley.example"}};
    });
}

void BM_crm_search(benchmark::State& state, backend kind) {
    run(state, kind, "crm", "search", [](world&, int64_t) {
        return json::object{{"query", "company 42"}, {"limit", 20}};
    });
}

// --- rag

void BM_rag_search(benchmark::State& state, backend kind) {
    run(state, kind, "rag", "search", [](world&, int64_t) { return json::object{{"query", "refund policy"}}; });
}

void BM_rag_search_rare_words(benchmark::State& state, backend kind) {
    run(state, kind, "rag", "search", [](world&, int64_t) { return json::object{{"query", "w1500 w1700"}}; });
}

void BM_rag_index_text(benchmark::State& state, backend kind) {
    sentences text;
    run(state, kind, "rag", "index_text", [&text](world& w, int64_t) {
        return json::object{{"source", "new/" + std::to_string(w.next_key++)}, {"text", rag_text(text)}};
    });
}

// Each operation once per storage, next to each other: BM_<tool>_<operation>/<storage>.
#define STORAGE_BENCHMARK(fn)                                                                             \
    BENCHMARK_CAPTURE(fn, sqlite, backend::sqlite)->UseRealTime()->Unit(benchmark::kMicrosecond);         \
    BENCHMARK_CAPTURE(fn, postgresql, backend::postgresql)->UseRealTime()->Unit(benchmark::kMicrosecond); \
    BENCHMARK_CAPTURE(fn, postgresql_fsync, backend::postgresql_fsync)->UseRealTime()->Unit(benchmark::kMicrosecond)

// Per tool, the reads first: the writes that follow grow the tables (new memories, tickets,
// customers), by more rows on the faster storage, and the reads should all see the same data.
STORAGE_BENCHMARK(BM_memory_get);
STORAGE_BENCHMARK(BM_memory_list);
STORAGE_BENCHMARK(BM_memory_recall);
STORAGE_BENCHMARK(BM_memory_recall_query);
STORAGE_BENCHMARK(BM_memory_store_replay);
STORAGE_BENCHMARK(BM_memory_store);
STORAGE_BENCHMARK(BM_escalation_get_ticket);
STORAGE_BENCHMARK(BM_escalation_create_ticket_replay);
STORAGE_BENCHMARK(BM_escalation_update_status);
STORAGE_BENCHMARK(BM_escalation_create_ticket);
STORAGE_BENCHMARK(BM_crm_get_by_id);
STORAGE_BENCHMARK(BM_crm_get_by_email);
STORAGE_BENCHMARK(BM_crm_search);
STORAGE_BENCHMARK(BM_crm_upsert_update);
STORAGE_BENCHMARK(BM_crm_upsert_create);
STORAGE_BENCHMARK(BM_rag_search);
STORAGE_BENCHMARK(BM_rag_search_rare_words);
STORAGE_BENCHMARK(BM_rag_index_text);

}  // namespace

int main(int argc, char** argv) {
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
    benchmark::AddCustomContext("sqlite", "WAL; synchronous FULL (memory), NORMAL (escalation, crm)");
    benchmark::AddCustomContext("postgresql",
                                "throwaway cluster on 127.0.0.1 (TCP): fsync off, full_page_writes off, "
                                "synchronous_commit on, shared_buffers 16MB");
    benchmark::AddCustomContext("postgresql_fsync", "the same, with fsync on and full_page_writes on");
    benchmark::RunSpecifiedBenchmarks();
    // Hosts before their databases, databases before the end of main.
    for (auto& w : worlds) w.reset();
    benchmark::Shutdown();
    return 0;
}
