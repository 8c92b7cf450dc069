// Tools in worker processes ("isolation": "process", isolation/worker_tool.hpp): an isolated tool
// answers as an in-process one does (context, progress, logs, nested calls, questions to the
// client); a worker that crashes, exits, hangs or leaks costs its own calls, is replaced, and
// after five crashes in a minute leaves the tool failed until it is restarted; other tools never
// notice; nothing leaks.
#define BOOST_TEST_MODULE worker
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>
#include <toolhost/json_schema.hpp>

#include "test_support.hpp"

#include <boost/asio/use_future.hpp>
#include <boost/json.hpp>

#include <sys/types.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace std::chrono_literals;
using toolhost::call_options;
using toolhost::call_result;
using toolhost::host;
using toolhost::host_config;
using toolhost::host_event;
using toolhost::host_event_kind;
using toolhost::status_code;
using toolhost::tool_state;
using toolhost::test::contains;
using toolhost::test::eventually;
using toolhost::test::temp_dir;

namespace {

// The testkit plugin with `testkit` isolated (unless the text says otherwise) and testkit_mt,
// the tool the concurrent load uses, in process.
struct isolated_env {
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    isolated_env() {
        fs::create_directory(plugins);
        toolhost::test::copy_into(TOOLHOST_FIXTURE_TESTKIT, plugins, "testkit.so");
    }
    host_config config(const std::string& text = R"({"tools": {"testkit": {"isolation": "process"}}})") const {
        return toolhost::test::folder_config(dir.path(), text);
    }
};

json::value result_json(const call_result& r) {
    BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
    return json::parse(*r);
}

std::string error_text(const call_result& r) { return r ? std::string("OK: ") + *r : r.error().to_string(); }

toolhost::worker_status worker_of(host& h, const std::string& tool = "testkit") {
    auto s = h.status(tool);
    BOOST_TEST_REQUIRE(s.has_value());
    BOOST_TEST_REQUIRE(s->worker.has_value(), "tool " << tool << " has no worker");
    return *s->worker;
}

// Calls testkit_mt.echo in a loop on two threads until stopped: every failure is counted.
class echo_load {
public:
    explicit echo_load(host& h) {
        for (int t = 0; t < 2; ++t)
            threads_.emplace_back([this, &h] {
                while (!stop_.load()) {
                    auto r = h.call("testkit_mt", "echo", json::object{{"n", 1}});
                    (r ? ok_ : failed_).fetch_add(1);
                    if (!r) {
                        std::lock_guard l(m_);
                        last_error_ = r.error().to_string();
                    }
                }
            });
    }
    ~echo_load() { finish(); }
    void finish() {
        stop_ = true;
        for (auto& t : threads_)
            if (t.joinable()) t.join();
    }
    int ok() const { return ok_.load(); }
    int failed() const { return failed_.load(); }
    std::string last_error() {
        std::lock_guard l(m_);
        return last_error_;
    }

private:
    std::atomic<bool> stop_{false};
    std::atomic<int> ok_{0}, failed_{0};
    std::mutex m_;
    std::string last_error_;
    std::vector<std::thread> threads_;
};

// Whether this process has `file` mapped, i.e. loaded it.
bool mapped_here(const fs::path& file) {
    std::ifstream maps("/proc/self/maps");
    for (std::string line; std::getline(maps, line);)
        if (contains(line, file.filename().string())) return true;
    return false;
}

std::size_t open_descriptors() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator("/proc/self/fd")) ++n;
    return n;
}

std::vector<int> children() { return toolhost::test::children_of(::getpid()); }

}  // namespace

BOOST_AUTO_TEST_CASE(an_isolated_tool_answers_as_an_in_process_one_does) {
    isolated_env env;
    host h(env.config());
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    auto st = h.status("testkit");
    BOOST_TEST(st->isolation == "process");
    BOOST_TEST(h.status("testkit_mt")->isolation == "in_process");
    BOOST_TEST(!h.status("testkit_mt")->worker.has_value());
    const auto w = worker_of(h);
    BOOST_TEST(w.pid > 0);
    BOOST_TEST(w.pid != ::getpid());
    BOOST_TEST(w.state == "running");
    BOOST_TEST(w.restarts == 0u);

    BOOST_TEST(result_json(h.call("testkit", "echo", json::object{{"x", 1}})) == (json::object{{"x", 1}}));

    call_options o;
    o.request_id = "req-7";
    o.session_id = "sess-7";
    o.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    o.deadline = std::chrono::steady_clock::now() + 60s;
    auto ctx = result_json(h.call("testkit", "context", json::object{}, o));
    BOOST_TEST(ctx.at("request_id") == "req-7");
    BOOST_TEST(ctx.at("session_id") == "sess-7");
    BOOST_TEST(ctx.at("traceparent").as_string() == o.traceparent);
    BOOST_TEST(ctx.at("has_deadline").as_bool());
    BOOST_TEST(ctx.at("remaining_ms").to_number<double>() > 0);

    std::vector<std::string> progress;
    call_options po;
    po.on_progress = [&](double done, double total, std::string_view m) {
        progress.push_back(std::to_string(int(done)) + "/" + std::to_string(int(total)) + " " + std::string(m));
    };
    BOOST_TEST(h.call("testkit", "progress", json::object{{"steps", 2}}, po).has_value());
    BOOST_TEST(progress == (std::vector<std::string>{"1/2 step 1", "2/2 step 2"}));

    // An error keeps its status, message and retry hint across the process boundary.
    auto failed = h.call("testkit", "fail", json::object{{"code", "NOT_FOUND"}, {"message", "nothing here"}});
    BOOST_TEST_REQUIRE(!failed.has_value());
    BOOST_TEST((failed.error().code == status_code::not_found), error_text(failed));
    BOOST_TEST(contains(failed.error().message, "nothing here"), error_text(failed));

    // A nested call from the worker goes through the host to the in-process tool, and back.
    auto nested = result_json(h.call(
        "testkit", "call_tool",
        json::object{{"tool", "testkit_mt"}, {"operation", "echo"}, {"arguments", json::object{{"deep", true}}}}));
    BOOST_TEST(nested.at("status") == 0, json::serialize(nested));
    BOOST_TEST(json::serialize(nested).find("deep") != std::string::npos, json::serialize(nested));

    h.shutdown();
    BOOST_TEST(worker_of(h).state == "stopped");
    BOOST_TEST(!toolhost::test::still_runs(static_cast<int>(w.pid)));
}

BOOST_AUTO_TEST_CASE(an_isolated_tool_loads_no_plugin_code_here) {
    isolated_env env;
    // A name of its own: other cases here load testkit.so in this process.
    fs::rename(env.plugins / "testkit.so", env.plugins / "never_loaded_here.so");
    host h(env.config(R"({"isolation": "process"})"));
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    BOOST_TEST(result_json(h.call("testkit_mt", "echo", json::object{})) == json::object{});
    BOOST_TEST(h.status("testkit_mt")->isolation == "process");
    BOOST_TEST(!mapped_here(env.plugins / "never_loaded_here.so"));
}

namespace {
// A client that answers questions and hears log messages (an MCP client, to the host).
class test_peer final : public toolhost::call_peer {
public:
    bool wants_log(int32_t level) const noexcept override { return level >= TOOLHOST_LOG_INFO; }
    void log(int32_t level, std::string_view logger, std::string_view message) noexcept override {
        std::lock_guard l(m);
        logs.push_back(std::to_string(level) + " " + std::string(logger) + " " + std::string(message));
    }
    call_result request(std::string_view method, std::string_view params,
                        const toolhost::call_control&) noexcept override {
        std::lock_guard l(m);
        asked.push_back(std::string(method) + " " + std::string(params));
        return call_result(std::string(R"({"answer":42})"));
    }
    std::mutex m;
    std::vector<std::string> logs, asked;
};
}  // namespace

BOOST_AUTO_TEST_CASE(questions_to_the_client_and_call_logs_are_routed_back) {
    isolated_env env;
    host h(env.config());
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    auto peer = std::make_shared<test_peer>();
    call_options o;
    o.peer = peer;
    auto asked = result_json(
        h.call("testkit", "ask_client", json::object{{"method", "sampling/createMessage"}, {"params", {{"q", 1}}}}, o));
    BOOST_TEST(json::serialize(asked).find("42") != std::string::npos, json::serialize(asked));
    BOOST_TEST_REQUIRE(peer->asked.size() == 1u);
    BOOST_TEST(contains(peer->asked[0], "sampling/createMessage"), peer->asked[0]);

    BOOST_TEST(h.call("testkit", "log", json::object{{"level", "warning"}, {"message", "heard"}}, o).has_value());
    BOOST_TEST(h.call("testkit", "log", json::object{{"level", "debug"}, {"message", "not wanted"}}, o).has_value());
    std::lock_guard l(peer->m);
    BOOST_TEST_REQUIRE(peer->logs.size() == 1u);
    BOOST_TEST(contains(peer->logs[0], "testkit.log heard"), peer->logs[0]);

    // Without a client, the plugin hears that there is none.
    auto none = result_json(h.call("testkit", "ask_client", json::object{{"method", "roots/list"}}));
    BOOST_TEST(none.at("status") == static_cast<int>(status_code::failed_precondition), json::serialize(none));
    BOOST_TEST(contains(json::serialize(none), "no client to ask"), json::serialize(none));
}

BOOST_AUTO_TEST_CASE(a_worker_that_crashes_or_exits_costs_only_its_call) {
    isolated_env env;
    std::mutex m;  // before the host: its shutdown still delivers events
    std::vector<std::string> events;
    host h(env.config());
    h.subscribe([&](const host_event& e) {
        if (e.kind != host_event_kind::worker_exited && e.kind != host_event_kind::worker_started) return;
        std::lock_guard l(m);
        events.push_back(std::string(toolhost::host_event_kind_name(e.kind)) + " " + std::string(e.message));
    });
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    echo_load load(h);
    const std::pair<const char*, const char*> cases[] = {
        {"segv", "killed by signal SIGSEGV"}, {"abort", "killed by signal SIGABRT"}, {"exit", "exited with code 3"}};
    std::uint64_t restarts = 0;
    for (const auto& [how, expected] : cases) {
        const auto before = worker_of(h).pid;
        auto r = h.call("testkit", "misbehave", json::object{{"how", how}});
        BOOST_TEST_REQUIRE(!r.has_value(), how);
        BOOST_TEST((r.error().code == status_code::unavailable), error_text(r));
        BOOST_TEST(contains(r.error().message, expected), error_text(r));
        BOOST_TEST(contains(r.error().message, "during the call"), error_text(r));
        // A new worker comes after the backoff, and answers.
        BOOST_TEST_REQUIRE(eventually([&] { return worker_of(h).state == "running"; }, 10s));
        const auto after = worker_of(h);
        BOOST_TEST(after.pid != before);
        BOOST_TEST(after.restarts == ++restarts);
        BOOST_TEST(contains(after.last_exit, expected), after.last_exit);
        BOOST_TEST(h.call("testkit", "echo", json::object{}).has_value());
    }
    load.finish();
    BOOST_TEST(load.failed() == 0, load.last_error());
    BOOST_TEST(load.ok() > 0);
    std::lock_guard l(m);
    BOOST_TEST(events.size() == 7u);  // the first start, then three ends and starts
    BOOST_TEST(std::count_if(events.begin(), events.end(), [](auto& e) { return contains(e, "worker_exited was"); }) ==
               2);
    // The breaker saw the failures.
    auto text = h.metrics().render_prometheus();
    BOOST_TEST(contains(text, "toolhost_tool_worker_restarts_total{tool=\"testkit\"} 3"), text);
    BOOST_TEST(contains(text, "toolhost_tool_worker_exits_total{tool=\"testkit\",reason=\"SIGSEGV\"} 1"), text);
    BOOST_TEST(contains(text, "toolhost_tool_worker_exits_total{tool=\"testkit\",reason=\"exit_3\"} 1"), text);
}

BOOST_AUTO_TEST_CASE(a_call_past_its_deadline_is_answered_and_its_worker_replaced) {
    isolated_env env;
    host h(env.config(R"({"tools": {"testkit": {"isolation": {"mode": "process", "cancel_grace_ms": 50}}}})"));
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    echo_load load(h);
    for (const char* how : {"hang", "spin"}) {
        const auto before = worker_of(h);
        call_options o;
        o.deadline = std::chrono::steady_clock::now() + 100ms;
        auto r = h.call("testkit", "misbehave", json::object{{"how", how}}, o);
        BOOST_TEST_REQUIRE(!r.has_value());
        BOOST_TEST((r.error().code == status_code::deadline_exceeded), error_text(r));
        // Killed after the grace and replaced at once (no backoff: not a crash); the bulkhead
        // slot comes back when the worker is gone.
        BOOST_TEST_REQUIRE(eventually(
            [&] {
                auto w = worker_of(h);
                return w.pid != before.pid && w.state == "running" && h.status("testkit")->in_flight == 0;
            },
            10s));
        const auto after = worker_of(h);
        BOOST_TEST(contains(after.last_exit, "was killed by the host"), after.last_exit);
        BOOST_TEST(contains(after.last_exit, "did not stop within 50 ms"), after.last_exit);
        BOOST_TEST(h.call("testkit", "echo", json::object{}).has_value());
    }
    // A call that stops when cancelled keeps its worker.
    const auto pid = worker_of(h).pid;
    call_options o;
    o.deadline = std::chrono::steady_clock::now() + 50ms;
    auto r = h.call("testkit", "wait_cancel", json::object{}, o);
    BOOST_TEST((!r && r.error().code == status_code::deadline_exceeded), error_text(r));
    std::this_thread::sleep_for(200ms);
    BOOST_TEST(worker_of(h).pid == pid);
    load.finish();
    BOOST_TEST(load.failed() == 0, load.last_error());
}

BOOST_AUTO_TEST_CASE(five_crashes_in_a_minute_fail_the_tool_until_it_is_restarted) {
    isolated_env env;
    // Without retries: a call in the backoff would otherwise be retried after the hint, and succeed.
    host h(env.config(R"({"tools": {"testkit": {"isolation": "process", "resilience": {"retry": {"max_attempts": 1},
                          "circuit_breaker": {"enabled": false}}}}})"));
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    bool saw_backoff = false;
    for (int crash = 0; crash < 5; ++crash) {
        BOOST_TEST_REQUIRE(eventually([&] { return worker_of(h).state == "running"; }, 10s), "crash " << crash);
        auto r = h.call("testkit", "misbehave", json::object{{"how", "segv"}});
        BOOST_TEST_REQUIRE(!r.has_value());
        if (crash < 4) {
            // During the backoff a call is refused at once, with a hint when to come back.
            eventually([&] { return worker_of(h).state == "restarting"; }, 5s);
            auto during = h.call("testkit", "echo", json::object{});
            BOOST_TEST_MESSAGE("during the backoff: " << error_text(during));
            if (!during && contains(during.error().message, "a new one starts in")) {
                saw_backoff = true;
                BOOST_TEST((during.error().code == status_code::unavailable));
                BOOST_TEST(during.error().retry_after.has_value());
            }
        }
    }
    BOOST_TEST(saw_backoff);
    BOOST_TEST_REQUIRE(eventually([&] { return h.status("testkit")->state == tool_state::failed; }, 5s));
    const auto st = *h.status("testkit");
    BOOST_TEST(contains(st.error, "ended 5 times within 60000 ms"), st.error);
    BOOST_TEST(contains(st.error, "SIGSEGV"), st.error);
    BOOST_TEST(st.worker->state == "failed");
    auto refused = h.call("testkit", "echo", json::object{});
    BOOST_TEST_REQUIRE(!refused.has_value());
    BOOST_TEST(contains(refused.error().message, "ended 5 times"), error_text(refused));
    // The other tools are untouched.
    BOOST_TEST(h.call("testkit_mt", "echo", json::object{}).has_value());

    auto restarted = h.restart_tool("testkit");
    BOOST_TEST_REQUIRE(restarted.has_value(), restarted.error().to_string());
    BOOST_TEST((h.status("testkit")->state == tool_state::ready));
    BOOST_TEST(worker_of(h).state == "running");
    BOOST_TEST(h.call("testkit", "echo", json::object{}).has_value());
    BOOST_TEST(!h.restart_tool("nope").has_value());
}

BOOST_AUTO_TEST_CASE(large_results_and_output_floods_cost_nothing_else) {
    isolated_env env;
    host h(env.config());
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    echo_load load(h);
    auto big = h.call("testkit", "misbehave", json::object{{"how", "big"}});
    BOOST_TEST_REQUIRE(big.has_value(), error_text(big));
    BOOST_TEST(json::parse(*big).as_string().size() == (1u << 20));
    const auto pid = worker_of(h).pid;
    auto flood = h.call("testkit", "misbehave", json::object{{"how", "flood"}});
    BOOST_TEST(flood.has_value(), error_text(flood));
    BOOST_TEST(h.call("testkit", "echo", json::object{}).has_value());
    BOOST_TEST(worker_of(h).pid == pid);
    load.finish();
    BOOST_TEST(load.failed() == 0, load.last_error());
}

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TOOLHOST_SANITIZED 1
#endif

BOOST_AUTO_TEST_CASE(a_leaking_worker_is_stopped_by_its_memory_limit) {
#ifdef TOOLHOST_SANITIZED
    // The sanitizers reserve terabytes of shadow address space: no RLIMIT_AS can hold them.
    BOOST_TEST_MESSAGE("skipped: RLIMIT_AS cannot be used under a sanitizer");
    return;
#endif
    isolated_env env;
    host h(env.config(R"({"tools": {"testkit": {"isolation": {"mode": "process", "max_memory_mb": 256}}}})"));
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    echo_load load(h);
    std::optional<call_result> stopped;
    for (int i = 0; i < 8 && !stopped; ++i) {
        auto r = h.call("testkit", "misbehave", json::object{{"how", "leak"}});
        if (!r) stopped = r;
    }
    BOOST_TEST_REQUIRE(stopped.has_value(), "the worker leaked 512 MiB under a 256 MiB limit");
    // Out of memory: the plugin's allocation threw (RESOURCE_EXHAUSTED), or it died of it.
    BOOST_TEST(
        (stopped->error().code == status_code::resource_exhausted || stopped->error().code == status_code::unavailable),
        error_text(*stopped));
    BOOST_TEST_REQUIRE(eventually([&] { return worker_of(h).state == "running"; }, 10s));
    BOOST_TEST(h.call("testkit", "echo", json::object{}).has_value());
    load.finish();
    BOOST_TEST(load.failed() == 0, load.last_error());
}

BOOST_AUTO_TEST_CASE(a_spinning_worker_is_stopped_by_its_cpu_limit) {
    isolated_env env;
    host h(env.config(R"({"tools": {"testkit": {"isolation": {"mode": "process", "max_cpu_seconds": 1},
                          "resilience": {"retry": {"max_attempts": 1}}}}})"));
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    call_options o;
    o.deadline = std::chrono::steady_clock::now() + 60s;  // the limit ends it long before
    auto r = h.call("testkit", "misbehave", json::object{{"how", "spin"}}, o);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::unavailable), error_text(r));
    BOOST_TEST(contains(r.error().message, "SIGXCPU"), error_text(r));
    BOOST_TEST_REQUIRE(eventually([&] { return worker_of(h).state == "running"; }, 10s));
    BOOST_TEST(h.call("testkit", "echo", json::object{}).has_value());
}

BOOST_AUTO_TEST_CASE(no_descriptor_or_process_is_left_behind) {
    const auto fds_before = open_descriptors();
    {
        isolated_env env;
        host h(env.config(R"({"isolation": {"mode": "process", "cancel_grace_ms": 20}})"));
        h.load_plugins();
        BOOST_TEST_REQUIRE(h.start({}).ok());
        BOOST_TEST(children().size() == 2u);  // testkit and testkit_mt
        h.call("testkit", "misbehave", json::object{{"how", "exit"}});
        call_options o;
        o.deadline = std::chrono::steady_clock::now() + 50ms;
        h.call("testkit_mt", "misbehave", json::object{{"how", "hang"}}, o);
        BOOST_TEST_REQUIRE(eventually(
            [&] { return worker_of(h).state == "running" && worker_of(h, "testkit_mt").restarts == 1u; }, 10s));
        BOOST_TEST(h.call("testkit", "echo", json::object{}).has_value());
        BOOST_TEST(children().size() == 2u);
        h.shutdown();
        BOOST_TEST(children().empty());
    }
    BOOST_TEST(open_descriptors() == fds_before);
}

BOOST_AUTO_TEST_CASE(isolation_settings_are_checked_and_merged) {
    isolated_env env;
    auto c = env.config(R"({"isolation": {"mode": "process", "cancel_grace_ms": 300, "max_memory_mb": 512},
                            "tools": {"testkit": {"isolation": "in_process"},
                                      "testkit_mt": {"isolation": {"max_cpu_seconds": 30}}}})");
    auto a = c.isolation_for("testkit");
    BOOST_TEST((a.mode == toolhost::isolation_mode::in_process));
    BOOST_TEST(a.mode_set_for_tool);
    auto b = c.isolation_for("testkit_mt");
    BOOST_TEST((b.mode == toolhost::isolation_mode::process));
    BOOST_TEST(!b.mode_set_for_tool);
    BOOST_TEST(b.cancel_grace.count() == 300);
    BOOST_TEST(b.max_memory_mb == 512u);
    BOOST_TEST(b.max_cpu_seconds == 30u);
    BOOST_TEST(c.isolation_for("other").start_timeout.count() == 60000);

    auto file = env.dir / "bad.json";
    toolhost::test::write_file(file, R"({"isolation": "sandbox", "tools": {"x": {"isolation": {"mode": "process",
        "max_memory_mb": 4, "grace": 1}}}})");
    auto bad = toolhost::load_config(file, [](std::string_view) { return std::optional<std::string>(); });
    BOOST_TEST_REQUIRE(!bad.has_value());
    const auto all = toolhost::test::all(bad.error());
    BOOST_TEST(contains(all, "/isolation: expected one of in_process, process, got \"sandbox\""), all);
    BOOST_TEST(contains(all, "/tools/x/isolation/max_memory_mb: expected 0 (no limit) or at least 16, got 4"), all);
    BOOST_TEST(contains(all, "unknown key 'grace'"), all);
}

BOOST_AUTO_TEST_CASE(a_tool_of_the_program_itself_cannot_be_isolated) {
    isolated_env env;
    host h(env.config(R"({"tools": {"builtin_echo": {"isolation": "process"}}})"));
    toolhost::tool_descriptor d;
    d.name = "builtin_echo";
    d.version = "1.0.0";
    d.operations.push_back(toolhost::operation_descriptor{
        "echo", "", *toolhost::json_schema::compile_text(R"({"type":"object"})"), std::nullopt, 0});
    class echo final : public toolhost::tool_instance {
        toolhost::void_result initialize(std::string_view, const fs::path&) override { return {}; }
        call_result invoke(const toolhost::invocation& i) noexcept override { return std::string(i.arguments); }
        void cleanup() noexcept override {}
    };
    BOOST_TEST_REQUIRE(
        h.register_factory(toolhost::make_tool_factory(d, [] { return std::make_unique<echo>(); })).has_value());
    auto report = h.start({.only = std::vector<std::string>{"builtin_echo"}});
    BOOST_TEST_REQUIRE(report.failed.size() == 1u);
    BOOST_TEST(contains(report.failed[0].second.message, "built into this program"), report.failed[0].second.message);
}

BOOST_AUTO_TEST_CASE(a_worker_that_dies_or_hangs_while_starting_fails_the_start_with_the_reason) {
    isolated_env env;
    host h(env.config(R"({"tools": {"testkit": {"isolation": {"mode": "process", "start_timeout_ms": 300},
                                                "config": {"misbehave_in_initialize": "abort"}}}})"));
    h.load_plugins();
    auto report = h.start({});
    BOOST_TEST_REQUIRE(report.failed.size() == 1u);
    BOOST_TEST(report.failed[0].first == "testkit");
    const auto& why = report.failed[0].second.message;
    BOOST_TEST(contains(why, "killed by signal SIGABRT"), why);
    BOOST_TEST(contains(why, "before it was ready"), why);
    BOOST_TEST(h.call("testkit_mt", "echo", json::object{}).has_value());

    host hung(env.config(R"({"tools": {"testkit": {"isolation": {"mode": "process", "start_timeout_ms": 300},
                                                   "config": {"misbehave_in_initialize": "hang"}}}})"));
    hung.load_plugins();
    report = hung.start({});
    BOOST_TEST_REQUIRE(report.failed.size() == 1u);
    BOOST_TEST(contains(report.failed[0].second.message, "did not get ready within 300 ms"),
               report.failed[0].second.message);
    BOOST_TEST(toolhost::test::children_of(::getpid()).empty());
}

BOOST_AUTO_TEST_CASE(a_shutdown_whose_grace_runs_out_kills_the_workers_and_ends) {
    isolated_env env;
    host h(env.config());
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());
    auto stuck = h.async_call("testkit", "misbehave", json::object{{"how", "hang"}}, {}, boost::asio::use_future);
    BOOST_TEST_REQUIRE(eventually([&] { return h.status("testkit")->in_flight > 0; }, 5s));
    std::this_thread::sleep_for(50ms);  // well inside the plugin
    const auto report = h.shutdown(200ms);
    BOOST_TEST(report.complete(), "left running: " << report.left_running.size());
    auto r = stuck.get();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::unavailable), error_text(r));
    BOOST_TEST(contains(r.error().message, "shutdown grace ran out"), error_text(r));
    BOOST_TEST(toolhost::test::children_of(::getpid()).empty());
}

BOOST_AUTO_TEST_CASE(a_worker_that_breaks_the_protocol_costs_only_its_tool) {
    // A fake toolhost-worker (tests/fixtures/fake_worker.cpp) that hands scanning to the real one.
    const char* real = std::getenv("TOOLHOST_WORKER");
    BOOST_TEST_REQUIRE(real != nullptr);
    ::setenv("TOOLHOST_REAL_WORKER", real, 1);
    isolated_env env;
    auto make = [&](const char* mode) {
        ::setenv("TOOLHOST_FAKE_WORKER", mode, 1);
        toolhost::host_options o;
        o.config = env.config(R"({"tools": {"testkit": {"isolation": {"mode": "process", "start_timeout_ms": 300}}}})");
        o.loader.worker = TOOLHOST_FIXTURE_FAKE_WORKER;
        auto h = std::make_unique<host>(std::move(o));
        h->load_plugins();
        return h;
    };
    const std::pair<const char*, const char*> refused_at_start[] = {{"bad_hello", "speaks ABI 99"},
                                                                    {"silent", "did not get ready within 300 ms"}};
    for (const auto& [mode, expected] : refused_at_start) {
        auto h = make(mode);
        auto report = h->start({});
        BOOST_TEST_REQUIRE(report.failed.size() == 1u, mode);
        BOOST_TEST(contains(report.failed[0].second.message, expected), report.failed[0].second.message);
        BOOST_TEST(h->call("testkit_mt", "echo", json::object{}).has_value());
    }
    const std::tuple<const char*, status_code, const char*> broken_calls[] = {
        {"garbage_on_call", status_code::unavailable, "broke the protocol"},
        {"bad_result", status_code::internal, "sent a malformed result"},
        {"close_on_call", status_code::unavailable, "closed its channel but did not exit"}};
    for (const auto& [mode, code, expected] : broken_calls) {
        auto h = make(mode);
        BOOST_TEST_REQUIRE(h->start({}).ok(), mode);
        call_options o;
        o.deadline = std::chrono::steady_clock::now() + 10s;
        auto r = h->call("testkit", "echo", json::object{}, o);
        BOOST_TEST_REQUIRE(!r.has_value(), mode);
        BOOST_TEST((r.error().code == code), error_text(r));
        BOOST_TEST(contains(r.error().message, expected), error_text(r));
        BOOST_TEST(h->call("testkit_mt", "echo", json::object{}).has_value());
        // The broken worker is not trusted again: it is killed and replaced.
        BOOST_TEST(eventually([&] { return worker_of(*h).restarts >= 1u; }, 10s), mode);
    }
    ::unsetenv("TOOLHOST_FAKE_WORKER");
}

BOOST_AUTO_TEST_CASE(no_worker_starts_for_a_file_replaced_after_its_scan) {
    isolated_env env;
    host h(env.config());
    h.load_plugins();
    // A new build renamed over the scanned one before the tool starts.
    const auto file = env.plugins / "testkit.so";
    const auto fresh = toolhost::test::copy_into(TOOLHOST_FIXTURE_TESTKIT, env.dir.path(), "new.so");
    fs::rename(fresh, file);
    auto report = h.start({});
    BOOST_TEST_REQUIRE(!report.failed.empty());
    const auto it =
        std::find_if(report.failed.begin(), report.failed.end(), [](const auto& f) { return f.first == "testkit"; });
    BOOST_TEST_REQUIRE((it != report.failed.end()));
    BOOST_TEST(contains(it->second.message, "changed after it was scanned"), it->second.message);
}
