// The host: registry, lifecycle (order, fail_on_error clean-up), the async adapter (callback,
// future, co_await), concurrency rules, shutdown with calls in flight, validation before the
// plugin runs, cancellation and deadlines, plugin logs and progress.
#define BOOST_TEST_MODULE host
#include <boost/test/unit_test.hpp>

#include <toolhost/host.hpp>
#include <toolhost/logging.hpp>

#include "test_support.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/json/parse.hpp>

#include <future>
#include <iostream>
#include <mutex>
#include <sstream>
#include <thread>

extern "C" const toolhost_plugin_entry_t toolhost_plugin_entry_v1;  // plugins/echo, linked in

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace toolhost;
using toolhost::test::temp_dir;

namespace {

using toolhost::test::contains;

// A config whose plugin folder holds only the testkit fixture, and whose data dir is temporary.
struct testkit_env {
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    testkit_env() {
        fs::create_directory(plugins);
        toolhost::test::copy_into(TOOLHOST_FIXTURE_TESTKIT, plugins, "testkit.so");
    }
    host_config config(const std::string& text = "{}") const {
        auto file = dir / "toolhost.json";
        toolhost::test::write_file(file, text);
        auto c = load_config(file, [](std::string_view) { return std::optional<std::string>(); });
        BOOST_TEST_REQUIRE(c.has_value());
        c->plugin_dirs = {plugins};
        c->data_dir = dir / "var";
        c->threads = 4;
        return std::move(*c);
    }
};

json::value result_json(const call_result& r) {
    BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
    return json::parse(*r);
}

// ------------------------------------------------------------------ in-process tools for lifecycle

struct event_log {
    std::mutex m;
    std::vector<std::string> events;
    void add(std::string e) {
        std::lock_guard l(m);
        events.push_back(std::move(e));
    }
    std::vector<std::string> take() {
        std::lock_guard l(m);
        return std::exchange(events, {});
    }
};

class recording_instance : public tool_instance {
public:
    recording_instance(std::string name, event_log& log, bool fail) : name_(std::move(name)), log_(log), fail_(fail) {
        log_.add("create " + name_);
    }
    ~recording_instance() override { log_.add("destroy " + name_); }
    void_result initialize(std::string_view config, const fs::path& data_dir) override {
        log_.add("initialize " + name_);
        if (!fs::is_directory(data_dir)) return make_tool_error(status_code::internal, "no data dir");
        if (fail_) return make_tool_error(status_code::unavailable, name_ + " cannot reach its backend");
        config_ = config;
        return {};
    }
    call_result invoke(const invocation& inv) noexcept override {
        return std::string(R"({"tool":")") + name_ + R"(","config":)" + config_ + R"(,"args":)" +
               std::string(inv.arguments) + "}";
    }
    void cleanup() noexcept override { log_.add("cleanup " + name_); }

private:
    std::string name_;
    event_log& log_;
    bool fail_;
    std::string config_;
};

tool_descriptor simple_descriptor(const std::string& name) {
    tool_descriptor d;
    d.name = name;
    d.version = "1.0";
    d.thread_safe = true;
    d.operations.push_back(
        operation_descriptor{"run", "", *json_schema::compile_text(R"({"type":"object"})"), std::nullopt, 0});
    return d;
}

std::shared_ptr<tool_factory> recording_factory(const std::string& name, event_log& log, bool fail = false) {
    return make_tool_factory(simple_descriptor(name),
                             [name, &log, fail] { return std::make_unique<recording_instance>(name, log, fail); });
}

host_config plain_config(const fs::path& data) {
    auto c = *default_config([](std::string_view) { return std::optional<std::string>(); });
    c.data_dir = data;
    c.threads = 2;
    return c;
}

// A free coroutine rather than a lambda: GCC 12 miscompiles some coroutine lambdas.
boost::asio::awaitable<void> call_from_coroutine(host& h, std::optional<call_result>& out, std::thread::id& thread) {
    // Arguments are named locals, not temporaries: GCC 12 rejects string-literal temporaries
    // in a co_await expression and bit-copies class temporaries there (a compiler bug).
    json::object args;
    args["via"] = "co_await";
    std::string tool = "testkit";
    std::string operation = "echo";
    call_options options;
    out = co_await h.async_call(std::move(tool), std::move(operation), std::move(args), std::move(options),
                                boost::asio::use_awaitable);
    thread = std::this_thread::get_id();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(lifecycle)

BOOST_AUTO_TEST_CASE(sequential_start_and_reverse_cleanup) {
    temp_dir d;
    event_log log;
    {
        host h(plain_config(d.path()));
        for (auto n : {"a", "b", "c"}) BOOST_TEST_REQUIRE(h.register_factory(recording_factory(n, log)).has_value());
        auto report = h.start(start_options{.concurrent = false, .fail_on_error = false, .only = std::nullopt});
        BOOST_TEST(report.ok());
        BOOST_TEST(report.ready == (std::vector<std::string>{"a", "b", "c"}));
        BOOST_TEST(log.take() == (std::vector<std::string>{"create a", "initialize a", "create b", "initialize b",
                                                           "create c", "initialize c"}));
        // Each tool's data folder is its user's only: other local users cannot read what it keeps.
        const auto others = fs::perms::group_all | fs::perms::others_all;
        BOOST_TEST(((fs::status(d.path() / "a").permissions() & others) == fs::perms::none));
        auto r = h.call("b", "run", json::object{{"x", 1}});
        BOOST_TEST(result_json(r).at("tool") == "b");
        h.shutdown();
        BOOST_TEST(log.take() == (std::vector<std::string>{"cleanup c", "destroy c", "cleanup b", "destroy b",
                                                           "cleanup a", "destroy a"}));
        auto after = h.call("a", "run", json::object{});
        BOOST_TEST_REQUIRE(!after.has_value());
        BOOST_TEST((after.error().code == status_code::unavailable));
        BOOST_TEST(contains(after.error().message, "shut down"));
    }
    BOOST_TEST(log.take().empty());  // nothing twice
}

BOOST_AUTO_TEST_CASE(concurrent_start_initializes_all_and_cleans_up_in_reverse) {
    temp_dir d;
    event_log log;
    host h(plain_config(d.path()));
    for (auto n : {"a", "b", "c", "d"}) h.register_factory(recording_factory(n, log));
    auto report = h.start(start_options{.concurrent = true, .fail_on_error = false, .only = std::nullopt});
    BOOST_TEST(report.ok());
    BOOST_TEST(report.ready.size() == 4u);
    auto started = log.take();
    BOOST_TEST(std::count_if(started.begin(), started.end(), [](auto& e) { return e.starts_with("initialize"); }) == 4);
    h.shutdown();
    BOOST_TEST(log.take() == (std::vector<std::string>{"cleanup d", "destroy d", "cleanup c", "destroy c", "cleanup b",
                                                       "destroy b", "cleanup a", "destroy a"}));
}

BOOST_AUTO_TEST_CASE(one_failure_does_not_stop_the_others) {
    temp_dir d;
    event_log log;
    host h(plain_config(d.path()));
    h.register_factory(recording_factory("a", log));
    h.register_factory(recording_factory("b", log, /*fail=*/true));
    h.register_factory(recording_factory("c", log));
    auto report = h.start(start_options{.concurrent = false, .fail_on_error = false, .only = std::nullopt});
    BOOST_TEST(report.ready == (std::vector<std::string>{"a", "c"}));
    BOOST_TEST_REQUIRE(report.failed.size() == 1u);
    BOOST_TEST(report.failed[0].first == "b");
    BOOST_TEST((report.failed[0].second.code == status_code::unavailable));
    // initialize failed: destroyed, never cleaned up
    BOOST_TEST(log.take() == (std::vector<std::string>{"create a", "initialize a", "create b", "initialize b",
                                                       "destroy b", "create c", "initialize c"}));
    auto st = h.status("b");
    BOOST_TEST_REQUIRE(st.has_value());
    BOOST_TEST((st->state == tool_state::failed));
    BOOST_TEST(contains(st->error, "cannot reach its backend"));
    auto r = h.call("b", "run", json::object{});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::failed_precondition));
    BOOST_TEST(contains(r.error().message, "failed to start"));
    BOOST_TEST(h.call("c", "run", json::object{}).has_value());
}

BOOST_AUTO_TEST_CASE(fail_on_error_cleans_up_the_tools_that_started) {
    temp_dir d;
    event_log log;
    host h(plain_config(d.path()));
    h.register_factory(recording_factory("a", log));
    h.register_factory(recording_factory("b", log));
    h.register_factory(recording_factory("c", log, /*fail=*/true));
    auto report = h.start(start_options{.concurrent = false, .fail_on_error = true, .only = std::nullopt});
    BOOST_TEST(!report.ok());
    BOOST_TEST(report.ready.empty());
    BOOST_TEST(log.take() == (std::vector<std::string>{"create a", "initialize a", "create b", "initialize b",
                                                       "create c", "initialize c", "destroy c", "cleanup b",
                                                       "destroy b", "cleanup a", "destroy a"}));
    auto r = h.call("a", "run", json::object{});
    BOOST_TEST_REQUIRE(!r.has_value());
}

BOOST_AUTO_TEST_CASE(calling_a_tool_that_is_not_initialized) {
    temp_dir d;
    event_log log;
    host h(plain_config(d.path()));
    h.register_factory(recording_factory("a", log));
    auto r = h.call("a", "run", json::object{});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::failed_precondition));
    BOOST_TEST(contains(r.error().message, "not initialized"));
}

BOOST_AUTO_TEST_CASE(registry_register_unregister_list_status) {
    temp_dir d;
    event_log log;
    host h(plain_config(d.path()));
    BOOST_TEST(h.register_factory(recording_factory("a", log)).has_value());
    auto dup = h.register_factory(recording_factory("a", log));
    BOOST_TEST_REQUIRE(!dup.has_value());
    BOOST_TEST(contains(dup.error(), "duplicate tool name 'a'"));
    auto bad = h.register_factory(recording_factory("no good", log));
    BOOST_TEST_REQUIRE(!bad.has_value());
    BOOST_TEST(contains(bad.error(), "invalid tool name"));
    h.register_factory(recording_factory("b", log));
    BOOST_TEST(h.list() == (std::vector<std::string>{"a", "b"}));
    h.start({});
    BOOST_TEST((h.status("a")->state == tool_state::ready));
    log.take();
    BOOST_TEST(h.unregister("a"));
    BOOST_TEST(log.take() == (std::vector<std::string>{"cleanup a", "destroy a"}));
    BOOST_TEST(!h.unregister("a"));
    BOOST_TEST(h.list() == std::vector<std::string>{"b"});
    auto r = h.call("a", "run", json::object{});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::not_found));
}

BOOST_AUTO_TEST_CASE(statically_linked_plugin_entry) {
    temp_dir d;
    host h(plain_config(d.path()));
    auto ok = h.register_entry(&toolhost_plugin_entry_v1, "static:echo");
    BOOST_TEST_REQUIRE(ok.has_value(), (ok ? "" : ok.error()));
    h.start({});
    auto r = h.call("echo", "echo", json::object{{"hello", "world"}});
    BOOST_TEST(result_json(r) == json::parse(R"({"hello":"world"})"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(plugins)

BOOST_AUTO_TEST_CASE(duplicate_tool_names_across_plugins) {
    temp_dir d;
    auto dir = d.path() / "p";
    fs::create_directory(dir);
    toolhost::test::copy_into(TOOLHOST_FIXTURE_DUP_A, dir, "a_dup.so");
    toolhost::test::copy_into(TOOLHOST_FIXTURE_DUP_B, dir, "b_dup.so");
    auto c = plain_config(d.path() / "var");
    c.plugin_dirs = {dir};
    host h(std::move(c));
    const auto& report = h.load_plugins();
    BOOST_TEST(h.list() == std::vector<std::string>{"dupe"});
    BOOST_TEST(h.find("dupe")->descriptor().description == "from a");
    BOOST_TEST_REQUIRE(report.rejected.size() == 1u);
    BOOST_TEST(contains(report.rejected[0].path, "b_dup.so"));
    BOOST_TEST(contains(report.rejected[0].reason, "duplicate tool name 'dupe'"));
    BOOST_TEST(contains(report.rejected[0].reason, "a_dup.so"));
}

BOOST_AUTO_TEST_CASE(calls_through_callback_future_and_coroutine) {
    testkit_env env;
    host h(env.config());
    h.load_plugins();
    BOOST_TEST_REQUIRE(h.start({}).ok());

    std::promise<call_result> p;
    h.async_call("testkit", "echo", json::object{{"via", "callback"}}, {},
                 [&](call_result r) { p.set_value(std::move(r)); });
    BOOST_TEST(result_json(p.get_future().get()) == json::parse(R"({"via":"callback"})"));

    auto f = h.async_call("testkit", "echo", json::object{{"via", "future"}}, {}, boost::asio::use_future);
    BOOST_TEST(result_json(f.get()) == json::parse(R"({"via":"future"})"));

    boost::asio::io_context io;
    std::optional<call_result> from_coro;
    std::thread::id completion_thread;
    boost::asio::co_spawn(io, call_from_coroutine(h, from_coro, completion_thread), boost::asio::detached);
    io.run();
    BOOST_TEST_REQUIRE(from_coro.has_value());
    BOOST_TEST(result_json(*from_coro) == json::parse(R"({"via":"co_await"})"));
    BOOST_TEST((completion_thread == std::this_thread::get_id()));  // resumed on the io_context
}

// A result that breaks the operation's output_schema is the plugin's fault: INTERNAL, naming
// the tool, the operation, the plugin file and where the result is wrong; on both call paths.
BOOST_AUTO_TEST_CASE(results_are_checked_against_the_output_schema) {
    testkit_env env;
    // Each refused result is a failure of the tool: without this the breaker would open.
    host h(env.config(R"({"resilience": {"circuit_breaker": {"enabled": false}}})"));
    h.load_plugins();
    h.start({});
    const std::string plugin = (env.plugins / "testkit.so").string();
    auto answer = [&](std::string_view op, std::string text, bool inline_path) {
        json::object args{{"text", std::move(text)}};
        return inline_path ? h.call_inline("testkit_mt", op, args) : h.call("testkit_mt", std::string(op), args);
    };
    for (const bool inline_path : {false, true}) {
        BOOST_TEST_CONTEXT((inline_path ? "call_inline" : "call")) {
            auto r = answer("answer", R"({"n": 3, "extra": [1]})", inline_path);
            BOOST_TEST_REQUIRE(r.has_value(), (r ? std::string() : r.error().to_string()));
            BOOST_TEST(*r == R"({"n": 3, "extra": [1]})");  // relayed as the plugin wrote it

            r = answer("answer", R"({"n": -1})", inline_path);
            BOOST_TEST_REQUIRE(!r.has_value());
            BOOST_TEST((r.error().code == status_code::internal));
            BOOST_TEST(r.error().message == "testkit_mt.answer (plugin " + plugin +
                                                ") returned a result that does not match its output_schema: /n: "
                                                "expected number greater than or equal to 0.000000",
                       r.error().message);

            r = answer("answer", R"({"m": 1})", inline_path);
            BOOST_TEST_REQUIRE(!r.has_value());
            BOOST_TEST(contains(r.error().message, "does not match its output_schema: /: "), r.error().message);
            BOOST_TEST(contains(r.error().message, "'n'"), r.error().message);

            r = answer("answer", "{\"n\": 1", inline_path);
            BOOST_TEST_REQUIRE(!r.has_value());
            BOOST_TEST((r.error().code == status_code::internal));
            BOOST_TEST(contains(r.error().message,
                                "testkit_mt.answer (plugin " + plugin + ") returned a result that is not JSON ("),
                       r.error().message);

            // {"type":"object"}: any object passes, anything else does not.
            r = answer("answer_object", R"( {"a": {"b": [null, "\u00e9"]}} )", inline_path);
            BOOST_TEST(r.has_value(), (r ? std::string() : r.error().to_string()));
            for (const char* bad : {"[1]", "\"text\"", "{\"a\":", "{} {}", ""}) {
                BOOST_TEST_CONTEXT("answer_object " << bad) {
                    r = answer("answer_object", bad, inline_path);
                    BOOST_TEST_REQUIRE(!r.has_value());
                    BOOST_TEST((r.error().code == status_code::internal));
                    BOOST_TEST(contains(r.error().message, "testkit_mt.answer_object (plugin "), r.error().message);
                }
            }
        }
    }
    // Without an output_schema a result is relayed as it is.
    auto r = h.call("testkit_mt", "echo", json::object{{"x", 1}});
    BOOST_TEST(r.has_value());
}

BOOST_AUTO_TEST_CASE(errors_are_values) {
    testkit_env env;
    host h(env.config());
    h.load_plugins();
    h.start({});

    auto r = h.call("testkit", "throw", json::object{});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::internal));
    BOOST_TEST(contains(r.error().message, "boom from testkit"));

    r = h.call("testkit", "fail",
               json::object{{"code", "NOT_FOUND"}, {"message", "customer 9 not found"}, {"retry_after_ms", 250}});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::not_found));
    BOOST_TEST(r.error().message == "customer 9 not found");
    BOOST_TEST_REQUIRE(r.error().retry_after.has_value());
    BOOST_TEST(r.error().retry_after->count() == 250);

    // A status that is no toolhost_status_t is UNKNOWN, and the message says what came back.
    r = h.call("testkit", "fail", json::object{{"code", 42}, {"message", "odd"}});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::unknown));
    BOOST_TEST(r.error().message ==
                   "testkit.fail returned status 42, which is not a toolhost_status_t (0 to 16, status.h); "
                   "reported as UNKNOWN: odd",
               r.error().message);
    r = h.call("testkit", "fail", json::object{{"code", -1}, {"message", ""}});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().message ==
                   "testkit.fail returned status -1, which is not a toolhost_status_t (0 to 16, status.h); "
                   "reported as UNKNOWN",
               r.error().message);
    r = h.call("testkit", "fail", json::object{{"code", "UNAVAILABLE"}, {"message", ""}});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST(r.error().message == "testkit.fail failed with UNAVAILABLE and no message", r.error().message);

    r = h.call("testkit", "nope", json::object{});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::not_found));
    BOOST_TEST(contains(r.error().message, "no operation 'nope'"));

    r = h.call("nosuch", "echo", json::object{});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::not_found));

    BOOST_CHECK_THROW(r.value(), tool_exception);  // for callers who prefer exceptions
}

BOOST_AUTO_TEST_CASE(invalid_arguments_never_reach_the_plugin) {
    testkit_env env;
    host h(env.config());
    h.load_plugins();
    h.start({});
    auto calls = [&] { return result_json(h.call("testkit", "stats", json::object{})).at("calls").as_int64(); };
    const auto before = calls();

    auto r = h.call("testkit", "sleep", json::object{{"ms", "ten"}});
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::invalid_argument));
    BOOST_TEST(contains(r.error().message, "/ms"), r.error().message);

    r = h.call("testkit", "sleep", json::value(json::array{1, 2}));
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::invalid_argument));
    BOOST_TEST(contains(r.error().message, "must be a JSON object"));

    BOOST_TEST(calls() == before + 1);  // only the stats call before this one reached it
}

BOOST_AUTO_TEST_CASE(tool_that_is_not_thread_safe_never_overlaps) {
    testkit_env env;
    host h(env.config());
    h.load_plugins();
    h.start({});
    std::vector<std::future<call_result>> fs;
    // 300 calls: within the default bulkhead (64 running + 256 queued).
    for (int i = 0; i < 300; ++i)
        fs.push_back(h.async_call("testkit", "overlap", json::object{{"us", 50}}, {}, boost::asio::use_future));
    for (auto& f : fs) BOOST_TEST(f.get().has_value());
    auto stats = result_json(h.call("testkit", "stats", json::object{}));
    BOOST_TEST(stats.at("active_max").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(thread_safe_tool_runs_calls_at_once) {
    testkit_env env;
    host h(env.config());
    h.load_plugins();
    h.start({});
    // Both calls must be inside the plugin at the same time to meet; a serialized tool would
    // time out instead.
    auto a = h.async_call("testkit_mt", "rendezvous", json::object{{"n", 2}, {"timeout_ms", 20000}}, {},
                          boost::asio::use_future);
    auto b = h.async_call("testkit_mt", "rendezvous", json::object{{"n", 2}, {"timeout_ms", 20000}}, {},
                          boost::asio::use_future);
    BOOST_TEST(result_json(a.get()).at("reached").as_bool());
    BOOST_TEST(result_json(b.get()).at("reached").as_bool());
}

BOOST_AUTO_TEST_CASE(shutdown_drains_calls_in_flight) {
    testkit_env env;
    auto log_file = env.dir / "lifecycle.log";
    ::setenv("TOOLHOST_TEST_LIFECYCLE_LOG", log_file.c_str(), 1);
    {
        host h(env.config());
        h.load_plugins();
        h.start({});
        std::vector<std::future<call_result>> fs;
        for (int i = 0; i < 6; ++i)
            fs.push_back(h.async_call("testkit_mt", "sleep", json::object{{"ms", 150}}, {}, boost::asio::use_future));
        for (int i = 0; i < 3; ++i)
            fs.push_back(h.async_call("testkit", "sleep", json::object{{"ms", 50}}, {}, boost::asio::use_future));
        // Wait until the plugin is really running some of them.
        while (result_json(h.call("testkit_mt", "stats", json::object{})).at("calls").as_int64() < 2)
            std::this_thread::yield();
        h.shutdown();
        BOOST_TEST(h.in_flight() == 0);
        for (auto& f : fs) {
            auto r = f.get();
            BOOST_TEST_REQUIRE(r.has_value(), (r ? "" : r.error().to_string()));
            BOOST_TEST(!json::parse(*r).at("cancelled").as_bool());
        }
        auto after = h.call("testkit", "echo", json::object{});
        BOOST_TEST_REQUIRE(!after.has_value());
        BOOST_TEST((after.error().code == status_code::unavailable));
    }
    ::unsetenv("TOOLHOST_TEST_LIFECYCLE_LOG");
    auto text = toolhost::test::read_file(log_file);
    // cleanup happens after every call returned; reverse order of registration
    auto pos_cleanup_mt = text.find("cleanup testkit_mt");
    auto pos_cleanup = text.find("cleanup testkit ");
    BOOST_TEST(pos_cleanup_mt != std::string::npos);
    BOOST_TEST(pos_cleanup != std::string::npos);
    BOOST_TEST(pos_cleanup_mt < pos_cleanup, text);
}

BOOST_AUTO_TEST_CASE(cancellation_and_deadline_reach_the_plugin) {
    testkit_env env;
    host h(env.config());
    h.load_plugins();
    h.start({});

    boost::asio::cancellation_signal signal;
    auto f = h.async_call("testkit", "wait_cancel", json::object{}, {},
                          boost::asio::bind_cancellation_slot(signal.slot(), boost::asio::use_future));
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    signal.emit(boost::asio::cancellation_type::terminal);
    auto r = f.get();
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::cancelled));

    call_options o;
    o.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(30);
    r = h.call("testkit", "wait_cancel", json::object{}, o);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::deadline_exceeded), r.error().to_string());

    o.deadline = std::chrono::steady_clock::now() - std::chrono::milliseconds(1);
    r = h.call("testkit", "echo", json::object{}, o);
    BOOST_TEST_REQUIRE(!r.has_value());
    BOOST_TEST((r.error().code == status_code::deadline_exceeded));
    BOOST_TEST(contains(r.error().message, "before"));
}

BOOST_AUTO_TEST_CASE(context_and_progress_reach_the_caller) {
    testkit_env env;
    host h(env.config());
    h.load_plugins();
    h.start({});
    call_options o;
    o.request_id = "req-1";
    o.session_id = "sess-1";
    o.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    o.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    auto ctx = result_json(h.call("testkit", "context", json::object{}, o));
    BOOST_TEST(ctx.at("request_id") == "req-1");
    BOOST_TEST(ctx.at("session_id") == "sess-1");
    BOOST_TEST(ctx.at("traceparent").as_string() == o.traceparent);
    BOOST_TEST(ctx.at("operation") == "context");
    BOOST_TEST(ctx.at("has_deadline").as_bool());
    BOOST_TEST(ctx.at("remaining_ms").to_number<double>() > 0);

    std::mutex m;
    std::vector<std::string> seen;
    call_options po;
    po.on_progress = [&](double done, double total, std::string_view msg) {
        std::lock_guard l(m);
        seen.push_back(std::to_string(static_cast<int>(done)) + "/" + std::to_string(static_cast<int>(total)) + " " +
                       std::string(msg));
    };
    BOOST_TEST(h.call("testkit", "progress", json::object{{"steps", 3}}, po).has_value());
    BOOST_TEST(seen == (std::vector<std::string>{"1/3 step 1", "2/3 step 2", "3/3 step 3"}));
}

BOOST_AUTO_TEST_CASE(plugin_logs_arrive_on_their_channel) {
    testkit_env env;
    host h(env.config());
    h.load_plugins();
    h.start({});
    std::stringstream captured;
    auto* old = std::clog.rdbuf(captured.rdbuf());
    logging::init(logging::level::info, logging::format::json);
    call_options o;
    o.request_id = "r-42";
    auto r =
        h.call("testkit", "log", json::object{{"level", "warning"}, {"message", "quote \" and newline \n inside"}}, o);
    logging::init(logging::level::warning, logging::format::text);
    std::clog.rdbuf(old);
    BOOST_TEST_REQUIRE(r.has_value());
    bool found = false;
    std::string line;
    while (std::getline(captured, line)) {
        auto v = json::parse(line);  // every line is valid JSON whatever the message contains
        if (v.at("channel") == "plugin.testkit" && v.at("message") == "quote \" and newline \n inside") {
            found = true;
            BOOST_TEST(v.at("level") == "warning");
            if (v.as_object().contains("request_id")) BOOST_TEST(v.at("request_id") == "r-42");
        }
    }
    BOOST_TEST(found, captured.str());
}

BOOST_AUTO_TEST_CASE(tool_config_is_validated_before_initialize) {
    testkit_env env;
    host h(
        env.config("{\n  \"tools\": {\n    \"testkit\": {\"config\": {\"label\": 5}},\n    \"testkit_mt\": "
                   "{\"config\": {\"fail_init\": true}}\n  }\n}\n"));
    h.load_plugins();
    auto problems = h.validate();
    BOOST_TEST_REQUIRE(problems.size() == 1u);
    BOOST_TEST(contains(problems[0], "toolhost.json:3:"), problems[0]);
    BOOST_TEST(contains(problems[0], "/tools/testkit/config/label"), problems[0]);
    auto report = h.start({});
    BOOST_TEST(report.failed.size() == 2u);
    auto st = h.status("testkit");
    BOOST_TEST((st->state == tool_state::failed));
    BOOST_TEST(contains(st->error, "INVALID_ARGUMENT"), st->error);
    auto mt = h.status("testkit_mt");
    BOOST_TEST((mt->state == tool_state::failed));
    BOOST_TEST(contains(mt->error, "fail_init was set"), mt->error);
}

BOOST_AUTO_TEST_SUITE_END()
