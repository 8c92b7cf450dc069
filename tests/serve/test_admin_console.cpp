// The operator's console's numbers (host/serve/src/console/admin_console): windows, history,
// health and its order, the last failed calls, rejections. A real host with the testkit plugin;
// the console's clocks are moved by hand, so every figure is exact. The page itself, in a real
// browser against a real server: tests/console.
#define BOOST_TEST_MODULE admin_console
#include <boost/test/unit_test.hpp>

#include "console/admin_console.hpp"

#include "test_support.hpp"

#include <boost/json.hpp>

#include <csignal>
#include <thread>

using namespace toolhost;
using namespace std::chrono_literals;
using serve::detail::admin_console;
using serve::detail::histogram_quantile;
using toolhost::test::temp_dir;
namespace json = boost::json;

namespace {

struct manual_clocks {
    std::chrono::steady_clock::time_point steady = std::chrono::steady_clock::time_point(1h);
    std::chrono::system_clock::time_point wall =
        std::chrono::system_clock::time_point(std::chrono::seconds(1'800'000'000));
    void advance(std::chrono::seconds d) {
        steady += d;
        wall += d;
    }
    admin_console::clocks clocks() {
        return {[this] { return steady; }, [this] { return wall; }};
    }
};

struct console_env {
    temp_dir dir;
    manual_clocks time;
    std::unique_ptr<host> h;

    // `config_text`, when given, is the configuration file's text (the plugin folder holds testkit).
    explicit console_env(const std::function<void(const std::filesystem::path&)>& add_plugins = {},
                         const std::string& config_text = {}) {
        auto config = toolhost::test::testkit_config(dir.path(), 2);
        if (!config_text.empty()) config = toolhost::test::folder_config(dir.path(), config_text, 2);
        if (add_plugins) add_plugins(dir / "plugins");
        h = std::make_unique<host>(std::move(config));
        h->load_plugins();
        BOOST_TEST_REQUIRE(h->start({}).ok());
    }
    ~console_env() { h->shutdown(); }

    std::unique_ptr<admin_console> console(admin_console::options o = {}) {
        admin_console::identity id{
            "node-a", [] { return std::uint16_t{8080}; }, "/etc/toolhost/toolhost.json", {"/plugins"}, {}};
        return std::make_unique<admin_console>(*h, std::move(id), o, time.clocks());
    }
    void ok(int n) {
        for (int i = 0; i < n; ++i)
            BOOST_TEST_REQUIRE(h->call("testkit_mt", "echo", json::object{{"i", i}}).has_value());
    }
    // Not idempotent: never retried, one call is one failure.
    void fail(int n, const std::string& message = "asked to fail") {
        for (int i = 0; i < n; ++i)
            BOOST_TEST_REQUIRE(
                !h->call("testkit_mt", "fail_unsafe", json::object{{"code", "INTERNAL"}, {"message", message}}));
    }
};

const json::object& op(const json::object& status, std::string_view tool, std::string_view operation) {
    for (const auto& o : status.at("operations").as_array())
        if (o.at("tool").as_string() == tool && o.at("operation").as_string() == operation) return o.as_object();
    throw std::runtime_error("no operation " + std::string(tool) + "." + std::string(operation) + " in the status");
}

std::vector<std::string> reasons(const json::object& o) {
    std::vector<std::string> out;
    for (const auto& r : o.at("reasons").as_array()) out.emplace_back(r.as_string());
    return out;
}

bool has(const std::vector<std::string>& v, std::string_view s) { return std::find(v.begin(), v.end(), s) != v.end(); }

}  // namespace

BOOST_AUTO_TEST_CASE(quantiles_are_interpolated_inside_their_bucket) {
    const std::vector<double> bounds{0.001, 0.002, 0.004};
    BOOST_TEST(histogram_quantile(0.5, {0, 0, 0, 0}, bounds) < 0);  // nothing observed
    BOOST_TEST(histogram_quantile(0.5, {0, 10, 0, 0}, bounds) == 0.0015, boost::test_tools::tolerance(1e-12));
    BOOST_TEST(histogram_quantile(0.9, {10, 0, 0, 0}, bounds) == 0.0009, boost::test_tools::tolerance(1e-12));
    // The upper tail in +Inf: the last bound, as histogram_quantile() answers.
    BOOST_TEST(histogram_quantile(0.99, {50, 0, 0, 50}, bounds) == 0.004);
    BOOST_TEST(histogram_quantile(0.5, {50, 0, 0, 50}, bounds) == 0.001, boost::test_tools::tolerance(1e-12));
}

BOOST_AUTO_TEST_CASE(the_header_names_the_node_and_what_it_serves) {
    console_env env;
    auto c = env.console();
    env.time.advance(12s);
    const auto s = c->status();
    BOOST_TEST(s.at("node").as_string() == "node-a:8080");
    BOOST_TEST(!s.at("version").as_string().empty());
    BOOST_TEST(s.at("uptime_s").to_number<double>() == 12.0);
    BOOST_TEST(s.at("now_ms").to_number<std::int64_t>() - s.at("started_at_ms").to_number<std::int64_t>() == 12000);
    BOOST_TEST(s.at("config_file").as_string() == "/etc/toolhost/toolhost.json");
    BOOST_TEST(s.at("plugin_dirs").as_array().at(0).as_string() == "/plugins");
    BOOST_TEST(s.at("summary").at("tools").to_number<std::int64_t>() == 2);  // testkit and testkit_mt
    BOOST_TEST(s.at("summary").at("ready").to_number<std::int64_t>() == 2);
    BOOST_TEST(s.at("summary").at("error_rate").is_null());  // no calls yet
    // Every operation of every tool has a row, idle until called.
    const auto& echo = op(s, "testkit", "echo");
    BOOST_TEST(echo.at("health").as_string() == "idle");
    BOOST_TEST(echo.at("p99_ms").is_null());
    BOOST_TEST(echo.at("error_rate").is_null());
}

BOOST_AUTO_TEST_CASE(windows_rates_and_history_come_from_the_samples) {
    console_env env;
    admin_console::options o;
    o.history = 4;
    auto c = env.console(o);
    env.ok(10);
    env.time.advance(5s);
    c->sample();
    env.fail(4);
    env.time.advance(2s);

    auto s = c->status();
    BOOST_TEST(s.at("window_s").to_number<double>() == 7.0);  // younger than the window: since the start
    const auto& failing = op(s, "testkit_mt", "fail_unsafe");
    BOOST_TEST(failing.at("calls").to_number<std::int64_t>() == 4);
    BOOST_TEST(failing.at("errors").to_number<std::int64_t>() == 4);
    BOOST_TEST(failing.at("error_rate").to_number<double>() == 1.0);
    const auto& echo = op(s, "testkit_mt", "echo");
    BOOST_TEST(echo.at("calls").to_number<std::int64_t>() == 10);
    BOOST_TEST(echo.at("errors").to_number<std::int64_t>() == 0);
    BOOST_TEST(echo.at("calls_per_s").to_number<double>() == 10.0 / 7.0, boost::test_tools::tolerance(1e-9));
    BOOST_TEST(echo.at("health").as_string() == "ok");
    BOOST_TEST(echo.at("p50_ms").is_double());
    BOOST_TEST(s.at("summary").at("error_rate").to_number<double>() == 4.0 / 14.0, boost::test_tools::tolerance(1e-9));
    // One point per interval, the last one still filling.
    const auto& history = echo.at("history").as_array();
    BOOST_TEST_REQUIRE(history.size() == 2u);
    BOOST_TEST(history[0].at("calls").to_number<std::int64_t>() == 10);
    BOOST_TEST(history[1].at("calls").to_number<std::int64_t>() == 0);
    const auto& fail_history = failing.at("history").as_array();
    BOOST_TEST(fail_history[1].at("calls").to_number<std::int64_t>() == 4);
    BOOST_TEST(fail_history[1].at("errors").to_number<std::int64_t>() == 4);

    // A minute later (a sample every 5 s, no calls since): the window holds none of those calls,
    // and the history keeps only its last four intervals.
    for (int i = 0; i < 13; ++i) {
        env.time.advance(5s);
        c->sample();
    }
    s = c->status();
    BOOST_TEST(s.at("window_s").to_number<double>() == 60.0);
    BOOST_TEST(op(s, "testkit_mt", "echo").at("calls").to_number<std::int64_t>() == 0);
    BOOST_TEST(op(s, "testkit_mt", "echo").at("health").as_string() == "idle");
    BOOST_TEST(op(s, "testkit_mt", "echo").at("history").as_array().size() == 4u);
}

BOOST_AUTO_TEST_CASE(the_worst_operation_comes_first_with_the_reasons) {
    console_env env;
    auto c = env.console();
    env.ok(20);
    BOOST_TEST_REQUIRE(env.h->call("testkit", "echo", json::object{}).has_value());
    env.fail(1, "one of many");  // 1 in 21 of testkit_mt: degraded, not failing
    env.time.advance(1s);
    auto s = c->status();
    auto ops = s.at("operations").as_array();
    BOOST_TEST(ops.at(0).at("operation").as_string() == "fail_unsafe");  // 100 % of one call
    BOOST_TEST(ops.at(0).at("health").as_string() == "degraded");        // too few calls to fail
    BOOST_TEST(has(reasons(ops.at(0).as_object()), "error rate 100%"));

    // Forced open, the tool's breaker refuses every operation of testkit_mt: those that were
    // called fail, worst first; the others are idle with the reason (one red row per operation
    // in use, not one per operation the tool has).
    BOOST_TEST_REQUIRE(env.h->force_open_circuit_breaker("testkit_mt"));
    auto refused = env.h->call("testkit_mt", "echo", json::object{});
    BOOST_TEST_REQUIRE(!refused);
    env.fail(5);
    s = c->status();
    ops = s.at("operations").as_array();
    BOOST_TEST(ops.at(0).at("tool").as_string() == "testkit_mt");
    BOOST_TEST(ops.at(0).at("operation").as_string() == "fail_unsafe");
    BOOST_TEST(ops.at(1).at("operation").as_string() == "echo");
    for (const auto& o : ops) {
        const bool mt = o.at("tool").as_string() == "testkit_mt";
        const bool called = o.at("calls").to_number<std::int64_t>() > 0;
        BOOST_TEST(o.at("health").as_string() == (mt && called ? "failing" : called ? "ok" : "idle"));
        if (mt) BOOST_TEST(has(reasons(o.as_object()), "circuit breaker forced open"));
    }
    // Refused by the breaker: counted per operation, as short-circuited and as errors.
    const auto& echo = op(s, "testkit_mt", "echo");
    BOOST_TEST(echo.at("short_circuited").to_number<std::int64_t>() == 1);
    BOOST_TEST(op(s, "testkit_mt", "fail_unsafe").at("short_circuited").to_number<std::int64_t>() == 5);
    BOOST_TEST(op(s, "testkit_mt", "fail_unsafe").at("calls").to_number<std::int64_t>() == 6);
    // The failing rows are all above the healthy ones.
    bool seen_healthy = false;
    for (const auto& o : ops) {
        if (o.at("health").as_string() != "failing")
            seen_healthy = true;
        else
            BOOST_TEST(!seen_healthy);
    }
    // The breaker itself, with what it opens at.
    const auto& breakers = s.at("breakers").as_array();
    auto it = std::find_if(breakers.begin(), breakers.end(),
                           [](const json::value& b) { return b.at("tool").as_string() == "testkit_mt"; });
    BOOST_TEST_REQUIRE((it != breakers.end()));
    BOOST_TEST(it->at("state").as_string() == "forced_open");
    BOOST_TEST(it->at("operation").is_null());
    BOOST_TEST(it->at("failure_rate_threshold").to_number<double>() == 0.5);
    BOOST_TEST(it->at("consecutive_failures_threshold").to_number<std::int64_t>() == 5);
    BOOST_TEST(it->at("next_probe_in_ms").is_null());  // forced open: no probe until reset
    BOOST_TEST(s.at("summary").at("open_breakers").to_number<std::int64_t>() == 1);

    BOOST_TEST_REQUIRE(env.h->reset_circuit_breaker("testkit_mt"));
    s = c->status();
    BOOST_TEST(!has(reasons(op(s, "testkit_mt", "echo")), "circuit breaker forced open"));
}

BOOST_AUTO_TEST_CASE(the_last_failed_calls_are_kept_newest_first_and_bounded) {
    console_env env;
    admin_console::options o;
    o.max_errors = 3;
    auto c = env.console(o);
    for (int i = 0; i < 4; ++i) {  // (a fifth in a row opens the breaker: the long one is the fifth)
        env.fail(1, "failure " + std::to_string(i));
        env.time.advance(1s);
    }
    // A long message is cut, at a character's boundary.
    std::string long_message;
    for (int i = 0; i < 600; ++i) long_message += "é";  // two bytes each
    env.fail(1, long_message);
    const auto s = c->status();
    const auto& errors = s.at("errors").as_array();
    BOOST_TEST_REQUIRE(errors.size() == 3u);
    const std::string cut(errors[0].at("message").as_string());
    BOOST_TEST(cut.size() < long_message.size());
    BOOST_TEST(cut.ends_with("…"), cut.size() << " bytes: " << cut.substr(cut.size() > 40 ? cut.size() - 40 : 0));
    BOOST_TEST(cut.substr(0, cut.size() - std::string("…").size()).size() % 2 == 0u);  // whole characters
    BOOST_TEST(errors[1].at("message").as_string() == "failure 3");
    BOOST_TEST(errors[2].at("message").as_string() == "failure 2");
    BOOST_TEST(errors[1].at("tool").as_string() == "testkit_mt");
    BOOST_TEST(errors[1].at("operation").as_string() == "fail_unsafe");
    BOOST_TEST(errors[1].at("status").as_string() == "INTERNAL");
    BOOST_TEST(errors[1].at("request_id").as_string().size() == 16u);  // made by the host
    BOOST_TEST(errors[1].at("at_ms").to_number<std::int64_t>() == s.at("now_ms").to_number<std::int64_t>() - 1000);
}

BOOST_AUTO_TEST_CASE(rejected_plugins_are_listed_with_the_reason) {
    console_env env([](const std::filesystem::path& plugins) {
        toolhost::test::copy_into(TOOLHOST_FIXTURE_BAD_SCHEMA, plugins, "bad_schema.so");
    });
    auto c = env.console();
    const auto s = c->status();
    const auto& rejections = s.at("rejections").as_array();
    BOOST_TEST_REQUIRE(rejections.size() == 1u);
    BOOST_TEST(rejections[0].at("path").as_string().ends_with("bad_schema.so"));
    BOOST_TEST(toolhost::test::contains(std::string(rejections[0].at("reason").as_string()), "input_schema"));
}

BOOST_AUTO_TEST_CASE(isolated_tools_show_their_worker_and_how_it_last_ended) {
    console_env env({}, R"({"tools": {"testkit_mt": {"isolation": "process"}}})");
    auto c = env.console();
    auto workers = [&] { return c->status().at("workers").as_array(); };
    BOOST_TEST_REQUIRE(workers().size() == 1u);  // testkit stays in process
    const auto first = workers().at(0).as_object();
    BOOST_TEST(first.at("tool").as_string() == "testkit_mt");
    BOOST_TEST(first.at("state").as_string() == "running");
    const auto pid = first.at("pid").to_number<std::int64_t>();
    BOOST_TEST(pid > 0);
    BOOST_TEST(first.at("restarts").to_number<std::int64_t>() == 0);

    // The worker killed from outside: the next one runs, and the page says how the last ended.
    BOOST_TEST_REQUIRE(::kill(static_cast<pid_t>(pid), SIGKILL) == 0);
    const auto until = std::chrono::steady_clock::now() + 30s;
    json::object now;
    do {
        std::this_thread::sleep_for(20ms);
        now = workers().at(0).as_object();
    } while ((now.at("state").as_string() != "running" || now.at("pid").to_number<std::int64_t>() == pid) &&
             std::chrono::steady_clock::now() < until);
    BOOST_TEST(now.at("state").as_string() == "running");
    BOOST_TEST(now.at("restarts").to_number<std::int64_t>() == 1);
    BOOST_TEST(toolhost::test::contains(std::string(now.at("last_exit").as_string()), "SIGKILL"),
               now.at("last_exit").as_string());
    const auto tools = c->status().at("tools").as_array();
    for (const auto& t : tools)
        if (t.at("name").as_string() == "testkit_mt") BOOST_TEST(t.at("isolation").as_string() == "process");
}
