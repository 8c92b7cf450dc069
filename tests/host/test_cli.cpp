// The toolhost command-line contract: JSON shapes on stdout, diagnostics on stderr, exit codes.
#define BOOST_TEST_MODULE cli
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <boost/json/parse.hpp>

#include <unistd.h>

#include <algorithm>
#include <csignal>

#include <set>
#include <thread>
#include <tuple>

namespace fs = std::filesystem;
namespace json = boost::json;
using toolhost::test::process_result;
using toolhost::test::temp_dir;

namespace {

using toolhost::test::contains;

// Runs toolhost with an empty config (so the source tree's conf/ does not leak in) unless the
// arguments name one.
process_result run_toolhost(std::vector<std::string> args, const std::string& input = {},
                            std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), TOOLHOST_TEST_EXE);
    env.emplace("TOOLHOST_CONFIG", "");
    env.emplace("TOOLHOST_PLUGIN_PATH", "");
    env.emplace("TOOLHOST_LOG_LEVEL", "warning");
    return toolhost::test::run_process(args, input, env);
}

// A folder with the testkit fixture and one bad file.
struct plugin_folder {
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    fs::path conf = dir / "toolhost.json";
    plugin_folder() {
        fs::create_directory(plugins);
        toolhost::test::copy_into(TOOLHOST_FIXTURE_TESTKIT, plugins, "testkit.so");
        toolhost::test::write_file(plugins / "broken.so", "garbage");
        toolhost::test::write_file(conf, R"({"data_dir": ")" + (dir / "var").string() + R"("})");
    }
    std::vector<std::string> base() const { return {"--config", conf.string(), "--plugin-dir", plugins.string()}; }
    std::vector<std::string> args(std::initializer_list<std::string> more) const {
        auto a = base();
        a.insert(a.end(), more);
        return a;
    }
};

json::value parse_stdout(const process_result& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.out, ec);
    BOOST_TEST_REQUIRE(!ec, "stdout is not one JSON value: " << r.out << "\nstderr: " << r.err);
    return v;
}

}  // namespace

BOOST_AUTO_TEST_CASE(version) {
    auto r = run_toolhost({"version"});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "toolhost "));
    r = run_toolhost({"version", "--json"});
    BOOST_TEST(r.exit_code == 0);
    auto v = parse_stdout(r);
    BOOST_TEST(v.at("abi").at("major").as_int64() == 1);
    BOOST_TEST(v.at("version").is_string());
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_64) {
    BOOST_TEST(run_toolhost({}).exit_code == 64);
    BOOST_TEST(run_toolhost({"frobnicate"}).exit_code == 64);
    BOOST_TEST(run_toolhost({"list", "--bogus"}).exit_code == 64);
    BOOST_TEST(run_toolhost({"call", "echo"}).exit_code == 64);
    BOOST_TEST(run_toolhost({"info"}).exit_code == 64);
    BOOST_TEST(run_toolhost({"--threads", "many", "list"}).exit_code == 64);
    auto r = run_toolhost({"help"});
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "usage: toolhost"));
}

BOOST_AUTO_TEST_CASE(list_json_shape) {
    plugin_folder p;
    auto r = run_toolhost(p.args({"--no-default-plugins", "list", "--json"}));
    BOOST_TEST(r.exit_code == 0, r.err);  // rejected files do not fail `list`
    auto v = parse_stdout(r);
    BOOST_TEST(v.as_object().size() == 2u);
    const auto& tools = v.at("tools").as_array();
    BOOST_TEST_REQUIRE(tools.size() == 2u);
    const auto& t = tools[0].as_object();
    BOOST_TEST(t.at("name") == "testkit");
    BOOST_TEST(t.at("version").is_string());
    BOOST_TEST(t.at("description").is_string());
    BOOST_TEST(fs::path(std::string(t.at("plugin").as_string())).filename() == "testkit.so");
    const auto& ops = t.at("operations").as_array();
    BOOST_TEST(!ops.empty());
    for (const auto& op : ops) {
        BOOST_TEST(op.at("name").is_string());
        BOOST_TEST(op.at("description").is_string());
        BOOST_TEST(op.at("input_schema").is_object());
    }
    const auto& rejected = v.at("rejected").as_array();
    BOOST_TEST_REQUIRE(rejected.size() == 1u);
    BOOST_TEST(contains(std::string(rejected[0].at("path").as_string()), "broken.so"));
    BOOST_TEST(contains(std::string(rejected[0].at("reason").as_string()), "not a shared library"));
}

BOOST_AUTO_TEST_CASE(bundled_plugins_are_found_next_to_the_executable) {
    auto r = run_toolhost({"list", "--json"});
    BOOST_TEST(r.exit_code == 0);
    auto v = parse_stdout(r);
    std::set<std::string> names;
    for (const auto& t : v.at("tools").as_array()) names.insert(std::string(t.at("name").as_string()));
    BOOST_TEST(names.count("echo") == 1u);
    BOOST_TEST(names.count("clock") == 1u);
}

BOOST_AUTO_TEST_CASE(info) {
    plugin_folder p;
    auto r = run_toolhost(p.args({"info", "testkit", "--json"}));
    BOOST_TEST(r.exit_code == 0, r.err);
    auto v = parse_stdout(r);
    BOOST_TEST(v.at("name") == "testkit");
    BOOST_TEST(v.at("enabled").as_bool());
    BOOST_TEST(v.at("config_schema").is_object());
    r = run_toolhost(p.args({"info", "testkit"}));
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(contains(r.out, "operations:"));
    r = run_toolhost(p.args({"info", "nosuch", "--json"}));
    BOOST_TEST(r.exit_code == 69);
    BOOST_TEST(parse_stdout(r).at("error").at("code") == "NOT_FOUND");
}

BOOST_AUTO_TEST_CASE(call_contract) {
    plugin_folder p;
    auto r = run_toolhost(p.args({"call", "testkit", "echo", R"({"a":[1,2,"x"]})", "--json"}));
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(parse_stdout(r) == json::parse(R"({"ok":true,"result":{"a":[1,2,"x"]}})"));

    r = run_toolhost(p.args({"call", "testkit", "echo", R"({"b":1})"}));
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(parse_stdout(r) == json::parse(R"({"b":1})"));

    r = run_toolhost(p.args({"call", "testkit", "echo", "-", "--json"}), R"({"from":"stdin"})");
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(parse_stdout(r).at("result").at("from") == "stdin");

    r = run_toolhost(p.args(
        {"call", "testkit", "context", "--request-id", "rq", "--session-id", "ss", "--timeout-ms", "60000", "--json"}));
    BOOST_TEST(r.exit_code == 0, r.err);
    auto ctx = parse_stdout(r).at("result");
    BOOST_TEST(ctx.at("request_id") == "rq");
    BOOST_TEST(ctx.at("session_id") == "ss");
    BOOST_TEST(ctx.at("has_deadline").as_bool());

    auto expect_error = [&](std::initializer_list<std::string> args, int code, const std::string& status) {
        auto res = run_toolhost(p.args(args));
        BOOST_TEST(res.exit_code == code, "exit " << res.exit_code << " for " << res.out << res.err);
        auto v = parse_stdout(res);
        BOOST_TEST(v.at("ok") == false);
        BOOST_TEST(v.at("error").at("code").as_string() == status);
        BOOST_TEST(v.at("error").at("message").is_string());
        return std::string(v.at("error").at("message").as_string());
    };
    expect_error({"call", "testkit", "echo", "{not json", "--json"}, 65, "INVALID_ARGUMENT");
    auto msg = expect_error({"call", "testkit", "sleep", R"({"ms":"x"})", "--json"}, 65, "INVALID_ARGUMENT");
    BOOST_TEST(contains(msg, "/ms"), msg);
    expect_error({"call", "nosuch", "echo", "--json"}, 69, "NOT_FOUND");
    expect_error({"call", "testkit", "throw", "--json"}, 70, "INTERNAL");
    expect_error({"call", "testkit", "fail", R"({"code":"NOT_FOUND","message":"m"})", "--json"}, 65, "NOT_FOUND");
    expect_error({"call", "testkit", "fail", R"({"code":"UNAVAILABLE","message":"m"})", "--json"}, 69, "UNAVAILABLE");
    expect_error({"call", "testkit", "wait_cancel", "--timeout-ms", "50", "--json"}, 69, "DEADLINE_EXCEEDED");

    // without --json the error goes to stderr and stdout stays empty
    r = run_toolhost(p.args({"call", "testkit", "throw"}));
    BOOST_TEST(r.exit_code == 70);
    BOOST_TEST(r.out.empty());
    BOOST_TEST(contains(r.err, "INTERNAL"));
}

// Doubles as people write them (toolhost/json_text.hpp), not Boost.JSON's 6E-1.
BOOST_AUTO_TEST_CASE(numbers_are_written_as_people_write_them) {
    plugin_folder p;
    for (const bool as_json : {true, false}) {
        auto argv = p.args({"call", "testkit", "echo", R"({"x":0.6,"y":1.4,"z":3.2010905023064775,"zero":0.0})"});
        if (as_json) argv.push_back("--json");
        const auto r = run_toolhost(argv);
        BOOST_TEST(r.exit_code == 0, r.err);
        BOOST_TEST(contains(r.out, R"("x":0.6,"y":1.4,"z":3.2010905023064775,"zero":0)"), r.out);
    }
}

// ARGS_JSON is client input like any other (issue 15): its errors located, and numbers that no
// double or 64-bit integer holds refused with their path rather than rounded or made infinite.
BOOST_AUTO_TEST_CASE(call_refuses_numbers_json_cannot_carry_and_locates_syntax_errors) {
    plugin_folder p;
    auto message_of = [&](const std::string& args) {
        auto r = run_toolhost(p.args({"call", "testkit", "echo", args, "--json"}));
        BOOST_TEST(r.exit_code == 65, "exit " << r.exit_code << " for " << args << ": " << r.out << r.err);
        auto v = parse_stdout(r);
        BOOST_TEST(v.at("error").at("code").as_string() == "INVALID_ARGUMENT");
        return std::string(v.at("error").at("message").as_string());
    };
    auto msg = message_of(R"({"x":1e309})");
    BOOST_TEST(contains(msg, "invalid arguments for testkit.echo: /x: number out of range"), msg);
    msg = message_of(R"({"a":[0,-123456789012345678901234567890]})");
    BOOST_TEST(contains(msg, "/a/1: number out of range"), msg);
    msg = message_of(R"({"a":1}})");
    BOOST_TEST(msg == "ARGS_JSON is not valid JSON: unexpected data after the JSON value at offset 7", msg);

    auto r =
        run_toolhost(p.args({"call", "testkit", "echo", R"({"x":18446744073709551615,"y":100000000000000000000})"}));
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, R"({"x":18446744073709551615,"y":1e+20})"), r.out);  // 1e20 exactly
}

BOOST_AUTO_TEST_CASE(validate) {
    plugin_folder p;
    fs::remove(p.plugins / "broken.so");
    auto r = run_toolhost(p.args({"validate"}));
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "configuration ok"));

    // A tool configuration its schema rejects, a tool nobody provides, and a bad plugin file:
    // every problem listed, exit 78.
    toolhost::test::write_file(
        p.conf, "{\n  \"tools\": {\n    \"testkit\": {\"config\": {\"label\": 7}},\n    \"ghost\": {}\n  }\n}\n");
    toolhost::test::write_file(p.plugins / "broken.so", "garbage");
    r = run_toolhost(p.args({"validate"}));
    BOOST_TEST(r.exit_code == 78);
    BOOST_TEST(contains(r.err, p.conf.string() + ":3:"), r.err);
    BOOST_TEST(contains(r.err, "/tools/testkit/config/label"), r.err);
    BOOST_TEST(contains(r.err, "ghost"), r.err);
    BOOST_TEST(contains(r.err, "broken.so"), r.err);
    r = run_toolhost(p.args({"validate", "--json"}));
    BOOST_TEST(r.exit_code == 78);
    BOOST_TEST(parse_stdout(r).at("problems").as_array().size() == 3u);

    // Syntax errors, unknown keys: file:line:col, exit 78 for any command
    toolhost::test::write_file(p.conf, "{\n  \"threads\": 2,\n  \"bogus\": true\n}\n");
    r = run_toolhost(p.args({"list"}));
    BOOST_TEST(r.exit_code == 78);
    BOOST_TEST(contains(r.err, p.conf.string() + ":3:3: error: /bogus"), r.err);
    toolhost::test::write_file(p.conf, "{\n  \"threads\": 2,,\n}\n");
    r = run_toolhost(p.args({"validate"}));
    BOOST_TEST(r.exit_code == 78);
    BOOST_TEST(contains(r.err, p.conf.string() + ":2:"), r.err);
}

BOOST_AUTO_TEST_CASE(tool_config_rejected_by_its_schema_is_a_config_error_for_call) {
    plugin_folder p;
    toolhost::test::write_file(p.conf, R"({"tools": {"testkit": {"config": {"label": 1}}}})");
    auto r = run_toolhost(p.args({"call", "testkit", "echo", "--json"}));
    BOOST_TEST(r.exit_code == 78, r.out << r.err);
}

BOOST_AUTO_TEST_CASE(disabled_tool_is_unavailable) {
    plugin_folder p;
    toolhost::test::write_file(p.conf, R"({"tools": {"testkit": {"enabled": false}}})");
    auto r = run_toolhost(p.args({"call", "testkit", "echo", "--json"}));
    BOOST_TEST(r.exit_code == 69, r.out << r.err);
    BOOST_TEST(contains(r.out, "disabled"), r.out);
}

BOOST_AUTO_TEST_CASE(environment_overrides) {
    plugin_folder p;
    auto r = run_toolhost({"--config", p.conf.string(), "--no-default-plugins", "list", "--json"}, {},
                          {{"TOOLHOST_PLUGIN_PATH", p.plugins.string()}});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(parse_stdout(r).at("tools").as_array().size() == 2u);
    r = run_toolhost({"--config", p.conf.string(), "list"}, {}, {{"TOOLHOST_THREADS", "lots"}});
    BOOST_TEST(r.exit_code == 78);
    BOOST_TEST(contains(r.err, "TOOLHOST_THREADS"), r.err);
}

BOOST_AUTO_TEST_CASE(unreadable_plugin_file_is_rejected_not_fatal) {
    plugin_folder p;
    auto secret = toolhost::test::copy_into(TOOLHOST_FIXTURE_MULTI, p.plugins, "secret.so");
    fs::permissions(secret, fs::perms::none);
    std::vector<std::string> args = {TOOLHOST_TEST_EXE, "--config",         p.conf.string(), "--no-default-plugins",
                                     "--plugin-dir",    p.plugins.string(), "list",          "--json"};
    if (::geteuid() == 0) {
        // root reads anything: run the command as the unprivileged uid 65534 instead
        fs::permissions(p.dir.path(), fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                          fs::perms::others_read | fs::perms::others_exec);
        toolhost::test::write_file(p.conf, "{}");
        fs::permissions(
            p.conf, fs::perms::owner_read | fs::perms::owner_write | fs::perms::others_read | fs::perms::group_read);
        args.insert(args.begin(), {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
    }
    auto r = toolhost::test::run_process(args, {}, {{"TOOLHOST_CONFIG", ""}, {"TOOLHOST_PLUGIN_PATH", ""}});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
    auto v = parse_stdout(r);
    BOOST_TEST(v.at("tools").as_array().size() == 2u);  // testkit still loads
    bool found = false;
    for (const auto& rej : v.at("rejected").as_array()) {
        if (contains(std::string(rej.at("path").as_string()), "secret.so")) {
            found = true;
            BOOST_TEST(contains(std::string(rej.at("reason").as_string()), "Permission denied"));
        }
    }
    BOOST_TEST(found, r.out);
}

BOOST_AUTO_TEST_CASE(bundled_c_plugin_clock) {
    temp_dir d;
    auto conf = d / "toolhost.json";
    toolhost::test::write_file(conf, R"({"data_dir": ")" + (d / "var").string() + R"("})");
    auto r = run_toolhost({"--config", conf.string(), "call", "clock", "now", R"({"timezone":"utc"})", "--json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
    auto v = parse_stdout(r).at("result");
    BOOST_TEST(v.at("unix_ms").as_int64() > 1700000000000);
    std::string iso(v.at("iso8601").as_string());
    BOOST_TEST(iso.size() == 24u, iso);
    BOOST_TEST(iso.back() == 'Z');

    r = run_toolhost({"--config", conf.string(), "call", "clock", "now", R"({"timezone":"mars"})", "--json"});
    BOOST_TEST(r.exit_code == 65);
    BOOST_TEST(contains(r.out, "/timezone"), r.out);

    r = run_toolhost(
        {"--config", conf.string(), "call", "clock", "sleep", R"({"ms":60000})", "--timeout-ms", "40", "--json"});
    BOOST_TEST(r.exit_code == 69);
    BOOST_TEST(parse_stdout(r).at("error").at("code").as_string() == "DEADLINE_EXCEEDED");
}

BOOST_AUTO_TEST_CASE(metrics_are_valid_prometheus_exposition) {
    plugin_folder p;
    auto r = run_toolhost(p.args({"--no-default-plugins", "metrics"}));
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "toolhost_tool_calls_total{"), r.out);
    BOOST_TEST(contains(r.out, "toolhost_tool_circuit_breaker_state{tool=\"testkit\"} 0"), r.out);
    auto check = toolhost::test::run_process({"/usr/bin/promtool", "check", "metrics"}, r.out);
    BOOST_TEST(check.exit_code == 0, check.out << check.err);
    BOOST_TEST(check.out.empty(), check.out);  // promtool prints lint problems
    r = run_toolhost(p.args({"--no-default-plugins", "metrics", "--json"}));
    BOOST_TEST(r.exit_code == 0);
    BOOST_TEST(parse_stdout(r).as_object().contains("toolhost_tool_calls_total"));

    // One tool's series only (the seed's get_tool_metrics), still a valid exposition.
    r = run_toolhost(p.args({"--no-default-plugins", "metrics", "testkit_mt"}));
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "toolhost_tool_circuit_breaker_state{tool=\"testkit_mt\"} 0"), r.out);
    BOOST_TEST(!contains(r.out, "tool=\"testkit\""), r.out);
    check = toolhost::test::run_process({"/usr/bin/promtool", "check", "metrics"}, r.out);
    BOOST_TEST(check.exit_code == 0, check.out << check.err);
    r = run_toolhost(p.args({"--no-default-plugins", "metrics", "testkit_mt", "--json"}));
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    const auto doc = parse_stdout(r);
    BOOST_TEST(!doc.as_object().empty());
    for (const auto& [name, family] : doc.as_object())
        for (const auto& sample : family.at("samples").as_array())
            BOOST_TEST(sample.at("labels").at("tool") == "testkit_mt", name);
    r = run_toolhost(p.args({"--no-default-plugins", "metrics", "nosuch"}));
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(contains(r.err, "nosuch"), r.err);
}

BOOST_AUTO_TEST_CASE(resilience_settings_in_the_file_are_checked) {
    plugin_folder p;
    fs::remove(p.plugins / "broken.so");
    toolhost::test::write_file(p.conf, R"({
  "resilience": {"retry": {"max_attempts": 2, "jitter": "sometimes"}},
  "tools": {
    "testkit": {
      "resilience": {"timeout_ms": 1000, "attempt_timeout_ms": 800, "bulkhead": {"max_running": 3}},
      "operations": {"fail": {"resilience": {"retry": {"retry_on": ["UNAVAILABLE", "SOMETIMES"]}}}}
    }
  }
})");
    auto r = run_toolhost(p.args({"validate"}));
    BOOST_TEST(r.exit_code == 78, r.out << r.err);
    BOOST_TEST(contains(r.err, ":2:57: error: /resilience/retry/jitter: expected \"none\", \"full\" or \"equal\""),
               r.err);
    BOOST_TEST(contains(r.err, ":5:82: error: /tools/testkit/resilience/bulkhead/max_running: unknown key"), r.err);
    BOOST_TEST(contains(r.err, "/tools/testkit/operations/fail/resilience/retry/retry_on/1: expected a status name"),
               r.err);

    // A policy whose attempts cannot fit in its deadline is rejected at its own location.
    toolhost::test::write_file(
        p.conf, R"({"tools": {"testkit": {"resilience": {"timeout_ms": 1000, "attempt_timeout_ms": 800}}}})");
    r = run_toolhost(p.args({"validate"}));
    BOOST_TEST(r.exit_code == 78, r.out << r.err);
    BOOST_TEST(contains(r.err, "/tools/testkit/resilience: "), r.err);
    BOOST_TEST(contains(r.err, "does not fit in timeout"), r.err);

    // So is a breaker its constructor would refuse: an open period longer than its maximum
    // (max_open_ms keeps its default of 300000), a failure rate of 0.
    toolhost::test::write_file(
        p.conf,
        R"({"tools": {"testkit": {"resilience": {"circuit_breaker": {"open_ms": 600000, "failure_rate": 0}}}}})");
    r = run_toolhost(p.args({"validate"}));
    BOOST_TEST(r.exit_code == 78, r.out << r.err);
    BOOST_TEST(contains(r.err, "/tools/testkit/resilience: "), r.err);
    BOOST_TEST(contains(r.err, "circuit_breaker.max_open_ms (300000 ms) is below open_ms (600000 ms)"), r.err);
    BOOST_TEST(contains(r.err, "circuit_breaker.failure_rate: must be above 0 and at most 1"), r.err);
    BOOST_TEST(!contains(r.err, "internal error"), r.err);

    // A valid one is applied: no retries for fail, so the injected error comes back at once.
    toolhost::test::write_file(
        p.conf, R"({"tools": {"testkit": {"operations": {"fail": {"resilience": {"retry": {"max_attempts": 1}}}}}}})");
    r = run_toolhost(p.args({"validate"}));
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    r = run_toolhost(p.args(
        {"call", "testkit", "fail", R"({"code":"UNAVAILABLE","message":"once","succeed_on_attempt":2})", "--json"}));
    BOOST_TEST(r.exit_code == 69, r.out << r.err);
    r = run_toolhost(p.args({"call", "testkit", "echo", "--json"}));
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
}

// ------------------------------------------------------- plugins that misbehave while loading

namespace {

// A plugin folder with testkit and libraries whose constructors abort, exit, segfault, throw
// and print (the hanging one is left to test_scanner: the CLI's scan timeout is 10 s).
struct misbehaving_folder : plugin_folder {
    misbehaving_folder() {
        fs::remove(plugins / "broken.so");
        for (auto [fixture, name] : {std::pair{TOOLHOST_FIXTURE_CTOR_ABORT, "abort.so"},
                                     {TOOLHOST_FIXTURE_CTOR_EXIT, "exit.so"},
                                     {TOOLHOST_FIXTURE_CTOR_SEGV, "segv.so"},
                                     {TOOLHOST_FIXTURE_CTOR_THROW, "throw.so"},
                                     {TOOLHOST_FIXTURE_CTOR_PRINT, "print.so"}})
            toolhost::test::copy_into(fixture, plugins, name);
    }
};

// `toolhost serve --http 127.0.0.1:0` on a folder's plugins with `serve_section` as the file's
// "serve" object, running until the test ends; `url` once it listens.
struct running_server {
    toolhost::test::background_process process;
    std::string url;
    // `more`: further top-level members of the configuration, e.g. `"isolation": "process"`.
    running_server(const plugin_folder& f, const std::string& serve_section, const std::string& log_level,
                   const std::string& more = {})
        : process(start(f, serve_section, log_level, more)) {
        const auto port_file = f.dir / "port";
        BOOST_TEST_REQUIRE(
            toolhost::test::eventually([&] { return fs::exists(port_file) && fs::file_size(port_file) > 0; },
                                       std::chrono::seconds(20)),
            process.err());
        auto port = toolhost::test::read_file(port_file);
        port.erase(port.find_last_not_of('\n') + 1);
        url = "http://127.0.0.1:" + port;
    }
    static toolhost::test::background_process start(const plugin_folder& f, const std::string& serve_section,
                                                    const std::string& log_level, const std::string& more) {
        toolhost::test::write_file(f.conf, R"({"data_dir": ")" + (f.dir / "var").string() + R"(", "serve": )" +
                                               serve_section + (more.empty() ? "" : ", " + more) + "}");
        return toolhost::test::background_process(
            {TOOLHOST_TEST_EXE, "--config", f.conf.string(), "--plugin-dir", f.plugins.string(), "serve", "--http",
             "127.0.0.1:0", "--port-file", (f.dir / "port").string()},
            f.dir.path(), {{"TOOLHOST_PLUGIN_PATH", ""}, {"TOOLHOST_LOG_LEVEL", log_level}});
    }
};

// A REST call of testkit's misbehave "hang" on its own thread, from a client (curl) that gives up
// after `seconds`.
std::thread hanging_call(const running_server& serving, int seconds) {
    return std::thread([url = serving.url + "/v1/tools/testkit/misbehave", seconds] {
        toolhost::test::run_process({"/usr/bin/curl", "-s", "-m", std::to_string(seconds), "-X", "POST", "-H",
                                     "Content-Type: application/json", "-d", R"({"how":"hang"})", url});
    });
}

std::map<std::string, std::string> rejected_by_file(const json::value& listed) {
    std::map<std::string, std::string> why;
    for (const auto& r : listed.at("rejected").as_array())
        why[fs::path(std::string(r.at("path").as_string())).filename().string()] = r.at("reason").as_string();
    return why;
}

}  // namespace

BOOST_AUTO_TEST_CASE(list_and_call_survive_libraries_that_crash_exit_or_print_while_loading) {
    misbehaving_folder f;
    auto r = run_toolhost(f.args({"--no-default-plugins", "list", "--json"}));
    BOOST_TEST(r.exit_code == 0, r.err);
    const auto listed = parse_stdout(r);  // one JSON value: the printing constructor never reached stdout
    BOOST_TEST(!contains(r.out, "hello from a constructor\n"));  // (the reason quotes it, escaped)
    std::set<std::string> names;
    for (const auto& t : listed.at("tools").as_array()) names.insert(std::string(t.at("name").as_string()));
    BOOST_TEST((names == std::set<std::string>{"testkit", "testkit_mt"}));
    auto why = rejected_by_file(listed);
    BOOST_TEST(contains(why["abort.so"], "SIGABRT"), why["abort.so"]);
    BOOST_TEST(contains(why["exit.so"], "exited with code 3"), why["exit.so"]);
    BOOST_TEST(contains(why["segv.so"], "SEGV"), why["segv.so"]);  // under ASan: its SEGV report
    BOOST_TEST(contains(why["throw.so"], "SIGABRT"), why["throw.so"]);
    BOOST_TEST(contains(why["print.so"], "standard output"), why["print.so"]);

    r = run_toolhost(f.args({"call", "testkit", "echo", R"({"x":1})", "--json"}));
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(parse_stdout(r).at("result").at("x").as_int64() == 1);
}

BOOST_AUTO_TEST_CASE(an_unchanged_folder_is_listed_from_the_scan_cache) {
    misbehaving_folder f;
    const auto first = run_toolhost(f.args({"--no-default-plugins", "list", "--json"}));
    BOOST_TEST_REQUIRE(first.exit_code == 0, first.err);
    BOOST_TEST(fs::exists(f.dir / "var" / "plugin-scan-cache.json"));
    // Without a worker, only the cache can answer: the same list, no plugin opened anywhere.
    const auto second = run_toolhost(f.args({"--no-default-plugins", "list", "--json"}), {},
                                     {{"TOOLHOST_WORKER", "/nonexistent/worker"}});
    BOOST_TEST_REQUIRE(second.exit_code == 0, second.err);
    BOOST_TEST(parse_stdout(second) == parse_stdout(first));
}

BOOST_AUTO_TEST_CASE(inspect_shows_a_plugin_without_loading_it) {
    plugin_folder f;
    auto r = run_toolhost({"inspect", (f.plugins / "testkit.so").string(), "--json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    auto v = parse_stdout(r);
    BOOST_TEST(v.at("loads").as_bool());
    BOOST_TEST(v.at("plugin").at("name").as_string() == "testkit");
    BOOST_TEST(v.at("plugin").at("abi").as_string() ==
               std::to_string(TOOLHOST_ABI_VERSION_MAJOR) + "." + std::to_string(TOOLHOST_ABI_VERSION_MINOR));
    BOOST_TEST(v.at("sha256").as_string().size() == 64u);
    BOOST_TEST(v.at("tools").as_array().size() == 2u);
    bool exports_entry = false;
    for (const auto& s : v.at("elf").at("exported").as_array())
        exports_entry |= s.as_string() == "toolhost_plugin_entry_v1";
    BOOST_TEST(exports_entry);
    BOOST_TEST(!v.at("elf").at("needed").as_array().empty());

    // A library whose constructor aborts: refused with the reason, exit 65, the command unharmed.
    toolhost::test::copy_into(TOOLHOST_FIXTURE_CTOR_ABORT, f.plugins, "abort.so");
    r = run_toolhost({"inspect", (f.plugins / "abort.so").string()});
    BOOST_TEST(r.exit_code == 65);
    BOOST_TEST(contains(r.out, "refused: loading it crashed the scanner process"), r.out);
    BOOST_TEST(contains(r.out, "toolhost_plugin_entry_v1"), r.out);  // its exports, read from the file

    // With a trust list, the verdict says whether this build is on it; one that is not is refused.
    const std::string digest(v.at("sha256").as_string());
    const auto kit = (f.plugins / "testkit.so").string();
    r = run_toolhost({"inspect", kit, "--json"}, {}, {{"TOOLHOST_TRUST_SHA256", digest}});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(parse_stdout(r).at("trusted").as_bool());
    r = run_toolhost({"inspect", kit}, {}, {{"TOOLHOST_TRUST_SHA256", std::string(64, 'a')}});
    BOOST_TEST(r.exit_code == 65);
    BOOST_TEST(contains(r.out, "trusted:  no"), r.out);
    BOOST_TEST(contains(r.out, "refused: its sha256 " + digest + " is not in trust.sha256"), r.out);
    BOOST_TEST(!v.as_object().contains("trusted"));  // no list, no verdict on it

    r = run_toolhost({"inspect", (f.dir / "missing.so").string(), "--json"});
    BOOST_TEST(r.exit_code == 65);
    BOOST_TEST(contains(std::string(parse_stdout(r).at("refused").as_string()), "cannot access"));
    BOOST_TEST(run_toolhost({"inspect"}).exit_code == 64);
}

// serve.database (several hosts, docs/deployment.md) that cannot be reached: serving does not
// start, and the message names the database but never its password. Status shows the database.
BOOST_AUTO_TEST_CASE(serve_refuses_a_shared_database_it_cannot_reach_without_showing_the_password) {
    plugin_folder f;
    fs::remove(f.plugins / "broken.so");
    const std::map<std::string, std::string> env{
        {"TOOLHOST_DATABASE_URL", "postgresql://toolhost:s3cr3t@127.0.0.1:1/tools"}};
    auto r = run_toolhost(f.args({"serve", "--http", "127.0.0.1:0"}), {}, env);
    BOOST_TEST(r.exit_code == 69, r.err);
    BOOST_TEST(contains(r.err, "cannot use serve.database: UNAVAILABLE"), r.err);
    BOOST_TEST(contains(r.err, "127.0.0.1:1/tools"), r.err);
    BOOST_TEST(!contains(r.err + r.out, "s3cr3t"), r.err);
    auto status = run_toolhost(f.args({"status"}), {}, env);
    BOOST_TEST(contains(status.out, "database postgresql 127.0.0.1:1/tools\n"), status.out);
    BOOST_TEST(!contains(status.out + status.err, "s3cr3t"), status.out);
}

BOOST_AUTO_TEST_CASE(serve_stays_up_when_a_crashing_library_is_dropped_into_its_folder) {
    plugin_folder f;
    fs::remove(f.plugins / "broken.so");
    running_server serving(f, R"({"plugin_rescan_ms": 100})", "warning");
    auto& server = serving.process;
    const std::string url = serving.url;
    auto metrics = [&] { return run_toolhost({"metrics", "--server", url}); };
    BOOST_TEST_REQUIRE(metrics().exit_code == 0);

    // The bad one and a good one, dropped in together: the good one appears, the server stays.
    toolhost::test::copy_into(TOOLHOST_FIXTURE_CTOR_ABORT, f.plugins, "abort.so");
    toolhost::test::copy_into(TOOLHOST_FIXTURE_MULTI, f.plugins, "multi.so");
    BOOST_TEST(
        toolhost::test::eventually([&] { return contains(metrics().out, "multi_one"); }, std::chrono::seconds(20)),
        server.err());
    BOOST_TEST(server.running(), server.err());
    BOOST_TEST(contains(server.err(), "SIGABRT"), server.err());
    BOOST_TEST(server.stop(SIGTERM) == 0, server.err());
}

BOOST_AUTO_TEST_CASE(a_crash_in_an_in_process_plugin_names_the_plugin_tool_operation_and_request) {
    plugin_folder f;
    for (auto [how, status, signal] :
         {std::tuple{"segv", 139, "SIGSEGV"}, {"raise", 139, "SIGSEGV"}, {"abort", 134, "SIGABRT"}}) {
        BOOST_TEST_CONTEXT(how) {
            auto r = run_toolhost(f.args({"call", "testkit", "misbehave", std::string(R"({"how":")") + how + R"("})",
                                          "--request-id", "rq-crash", "--json"}));
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
            // A sanitizer reports the SEGV itself and exits with its own code.
            if (std::string_view(how) != "abort") status = r.exit_code != 0 ? r.exit_code : -1;
#endif
            BOOST_TEST(r.exit_code == status, r.err);
            BOOST_TEST(contains(r.err, std::string("toolhost: fatal signal ") + signal +
                                           " in plugin code: " + (f.plugins / "testkit.so").string() +
                                           ", tool testkit, operation misbehave, request id rq-crash"),
                       r.err);
        }
    }
}

BOOST_AUTO_TEST_CASE(call_answers_at_its_deadline_and_exits_though_the_plugin_never_returns) {
    plugin_folder f;
    for (const std::string how : {"spin", "hang"}) {
        BOOST_TEST_CONTEXT(how) {
            // If the command waited for the plugin, this would never return (ctest's timeout).
            auto r = run_toolhost(f.args(
                {"call", "testkit", "misbehave", R"({"how":")" + how + R"("})", "--timeout-ms", "300", "--json"}));
            BOOST_TEST(r.exit_code == 69, r.err);
            BOOST_TEST(parse_stdout(r).at("error").at("code") == "DEADLINE_EXCEEDED");
            BOOST_TEST(contains(r.err, "still run in plugin code"), r.err);
            BOOST_TEST(contains(r.err, "testkit"), r.err);
        }
    }
}

BOOST_AUTO_TEST_CASE(interrupting_call_ends_it_whether_or_not_the_plugin_stops) {
    plugin_folder f;
    auto args = f.args({"call", "testkit", "misbehave", R"({"how":"spin"})", "--json"});
    args.insert(args.begin(), TOOLHOST_TEST_EXE);
    toolhost::test::background_process call(
        args, f.dir.path(), {{"TOOLHOST_CONFIG", ""}, {"TOOLHOST_PLUGIN_PATH", ""}, {"TOOLHOST_LOG_LEVEL", "info"}});
    // Once the call runs (its "call started" line), Ctrl-C.
    BOOST_TEST_REQUIRE(
        toolhost::test::eventually([&] { return contains(call.err(), "call started"); }, std::chrono::seconds(20)),
        call.err());
    BOOST_TEST(call.stop(SIGINT) == 69, call.err());
    boost::system::error_code ec;
    const auto answer = json::parse(call.out(), ec);
    BOOST_TEST_REQUIRE(!ec, call.out());
    BOOST_TEST(answer.at("error").at("code") == "CANCELLED");
    BOOST_TEST(contains(std::string(answer.at("error").at("message").as_string()), "interrupted by SIGINT"));
}

BOOST_AUTO_TEST_CASE(a_plugins_writes_to_stdout_never_reach_the_output_of_call) {
    plugin_folder f;
    auto r = run_toolhost(f.args({"call", "testkit", "print", R"({"text":"stray line"})", "--json"}));
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(parse_stdout(r) == json::parse(R"({"ok":true,"result":{}})"));
    BOOST_TEST(contains(r.err, "stray line"), r.err);  // where it went instead
}

BOOST_AUTO_TEST_CASE(serve_stops_after_its_grace_though_a_plugin_never_returns) {
    plugin_folder f;
    running_server serving(f, R"({"http": {"shutdown_grace_ms": 300}})", "info");
    auto& server = serving.process;
    // A call that never returns, over REST, from a client that gives up after a moment.
    std::thread client = hanging_call(serving, 1);
    BOOST_TEST(
        toolhost::test::eventually([&] { return contains(server.err(), "call started"); }, std::chrono::seconds(20)),
        server.err());
    client.join();
    BOOST_TEST(server.stop(SIGTERM) == 0, server.err());  // if it waited for the plugin: ctest's timeout
    BOOST_TEST(contains(server.err(), "still run in plugin code (it cannot be stopped): testkit"), server.err());
}

namespace {
// The plugin folder's configuration with every tool in a worker process.
void isolate_all(const plugin_folder& f) {
    toolhost::test::write_file(f.conf, R"({"data_dir": ")" + (f.dir / "var").string() +
                                           R"(", "isolation": {"mode": "process", "cancel_grace_ms": 100}})");
}
}  // namespace

BOOST_AUTO_TEST_CASE(call_with_isolated_tools_keeps_its_contract) {
    plugin_folder f;
    isolate_all(f);
    for (auto [how, expected] : {std::pair{"segv", "killed by signal SIGSEGV"},
                                 {"abort", "killed by signal SIGABRT"},
                                 {"exit", "exited with code 3"}}) {
        BOOST_TEST_CONTEXT(how) {
            auto crash = run_toolhost(
                f.args({"call", "testkit", "misbehave", std::string(R"({"how":")") + how + R"("})", "--json"}));
            BOOST_TEST(crash.exit_code == 69, crash.err);
            const auto answer = parse_stdout(crash);
            BOOST_TEST(answer.at("error").at("code") == "UNAVAILABLE");
            BOOST_TEST(contains(std::string(answer.at("error").at("message").as_string()), expected), crash.out);
            BOOST_TEST(!contains(crash.err, "fatal signal"), crash.err);  // the host did not crash
        }
    }
    auto big = run_toolhost(f.args({"call", "testkit", "misbehave", R"({"how":"big"})", "--json"}));
    BOOST_TEST(big.exit_code == 0, big.err);
    BOOST_TEST(parse_stdout(big).at("result").as_string().size() == (1u << 20));

    // A flood of output from the plugin: stdout still holds exactly the one answer.
    auto flood = run_toolhost(f.args({"call", "testkit", "misbehave", R"({"how":"flood"})", "--json"}));
    BOOST_TEST(flood.exit_code == 0, flood.err);
    BOOST_TEST(parse_stdout(flood) == json::parse(R"({"ok":true,"result":{"lines":8192}})"));

    // A plugin that never returns: answered at the deadline, its worker killed, nothing left over.
    auto hang =
        run_toolhost(f.args({"call", "testkit", "misbehave", R"({"how":"hang"})", "--timeout-ms", "300", "--json"}));
    BOOST_TEST(hang.exit_code == 69, hang.err);
    BOOST_TEST(parse_stdout(hang).at("error").at("code") == "DEADLINE_EXCEEDED");
    BOOST_TEST(!contains(hang.err, "still run in plugin code"), hang.err);

    auto status = run_toolhost(f.args({"status", "--json"}));
    BOOST_TEST(status.exit_code == 0, status.err);
    const auto tools = parse_stdout(status);
    for (const auto& t : tools.at("tools").as_array()) {
        BOOST_TEST(t.at("isolation") == "process");
        BOOST_TEST(t.at("worker").at("pid").to_number<int64_t>() > 0);
        BOOST_TEST(t.at("worker").at("state") == "running");
    }
}

BOOST_AUTO_TEST_CASE(serve_with_isolated_tools_survives_their_crashes_and_leaves_no_worker_behind) {
    plugin_folder f;
    fs::remove(f.plugins / "broken.so");
    running_server serving(f, "{}", "warning", R"("isolation": "process")");
    auto& server = serving.process;
    auto post = [&](const std::string& path, const std::string& body) {
        return toolhost::test::run_process({"/usr/bin/curl", "-s", "-m", "10", "-w", "\n%{http_code}", "-X", "POST",
                                            "-H", "Content-Type: application/json", "-d", body, serving.url + path});
    };
    auto crashed = post("/v1/tools/testkit/misbehave", R"({"how":"abort"})");
    BOOST_TEST(contains(crashed.out, "killed by signal SIGABRT"), crashed.out);
    BOOST_TEST(server.running(), server.err());
    BOOST_TEST(toolhost::test::eventually(
        [&] { return contains(post("/v1/tools/testkit/echo", R"({"back":1})").out, R"("back":1)"); },
        std::chrono::seconds(20)));

    auto restarted = run_toolhost({"restart", "testkit", "--server", serving.url, "--json"});
    BOOST_TEST(restarted.exit_code == 0, restarted.err);
    BOOST_TEST(parse_stdout(restarted).at("worker").at("state") == "running", restarted.out);
    BOOST_TEST(run_toolhost({"restart", "nope", "--server", serving.url}).exit_code != 0);

    // Killed outright, the host takes its workers with it.
    // One worker per tool: testkit's two and the bundled plugins' (the default plugin folder).
    const auto workers = toolhost::test::children_of(server.pid());
    BOOST_TEST_REQUIRE(workers.size() >= 2u);
    BOOST_TEST(server.stop(SIGKILL) == 128 + SIGKILL);
    BOOST_TEST(toolhost::test::eventually(
        [&] { return std::none_of(workers.begin(), workers.end(), toolhost::test::still_runs); },
        std::chrono::seconds(10)));
}

BOOST_AUTO_TEST_CASE(serve_kills_the_workers_of_calls_that_outlast_its_grace) {
    plugin_folder f;
    running_server serving(f, R"({"http": {"shutdown_grace_ms": 300}})", "info",
                           R"("isolation": {"mode": "process", "cancel_grace_ms": 5000})");
    auto& server = serving.process;
    // A call that never returns, from a client that waits longer than the server's grace.
    std::thread client = hanging_call(serving, 20);
    BOOST_TEST(
        toolhost::test::eventually([&] { return contains(server.err(), "call started"); }, std::chrono::seconds(20)),
        server.err());
    BOOST_TEST(server.stop(SIGTERM) == 0, server.err());
    client.join();
    // Not after the 5 s cancel grace: at the end of the shutdown's own grace.
    BOOST_TEST(contains(server.err(), "tool stopped by killing its worker"), server.err());
    BOOST_TEST(
        contains(server.err(), "was killed by the host: its calls were still running when the shutdown grace ran out"),
        server.err());
    BOOST_TEST(!contains(server.err(), "still run in plugin code"), server.err());
}

namespace {
// An HTTP request with curl: the status code, then the body.
std::pair<int, std::string> http(const std::string& method, const std::string& url, const std::string& token = {}) {
    std::vector<std::string> argv{"/usr/bin/curl", "-s", "-m", "30", "-X", method, "-w", "\n%{http_code}", url};
    if (!token.empty()) argv.insert(argv.end(), {"-H", "Authorization: Bearer " + token});
    auto r = toolhost::test::run_process(argv);
    const auto cut = r.out.rfind('\n');
    if (cut == std::string::npos) return {0, r.out};
    return {std::atoi(r.out.c_str() + cut + 1), r.out.substr(0, cut)};
}

// The server's configuration file with testkit enabled or not, and `serve` as its serve section.
void write_served_conf(const plugin_folder& f, const std::string& serve, const std::string& tools) {
    toolhost::test::write_file(f.conf, R"({"data_dir": ")" + (f.dir / "var").string() + R"(", "serve": )" + serve +
                                           R"(, "tools": )" + tools + "}");
}
}  // namespace

BOOST_AUTO_TEST_CASE(sighup_reloads_the_configuration_and_never_stops_the_server) {
    plugin_folder f;
    const std::string serve = R"({"plugin_rescan_ms": 0})";
    running_server serving(f, serve, "info");
    auto& server = serving.process;
    auto enabled = [&] {
        auto [code, body] = http("GET", serving.url + "/v1/tools/testkit");
        return code == 200 && json::parse(body).at("enabled").as_bool();
    };
    BOOST_TEST_REQUIRE(enabled());

    write_served_conf(f, serve, R"({"testkit": {"enabled": false}})");
    BOOST_TEST_REQUIRE(::kill(server.pid(), SIGHUP) == 0);
    BOOST_TEST(toolhost::test::eventually([&] { return !enabled(); }, std::chrono::seconds(20)), server.err());
    BOOST_TEST(http("POST", serving.url + "/v1/tools/testkit/echo").first == 412);

    // A configuration with a problem: refused, logged with where, nothing changes, still serving.
    toolhost::test::write_file(f.conf, R"({"data_dir": ")" + (f.dir / "var").string() + R"(", "threads": "many"})");
    BOOST_TEST_REQUIRE(::kill(server.pid(), SIGHUP) == 0);
    BOOST_TEST(toolhost::test::eventually([&] { return contains(server.err(), "configuration reload refused"); },
                                          std::chrono::seconds(20)),
               server.err());
    BOOST_TEST(contains(server.err(), "/threads"), server.err());
    BOOST_TEST(server.running());
    BOOST_TEST(!enabled());

    write_served_conf(f, serve, "{}");
    BOOST_TEST_REQUIRE(::kill(server.pid(), SIGHUP) == 0);
    BOOST_TEST(toolhost::test::eventually(enabled, std::chrono::seconds(20)), server.err());
    BOOST_TEST(server.stop(SIGTERM) == 0, server.err());
}

BOOST_AUTO_TEST_CASE(admin_reload_needs_the_token_and_answers_what_changed) {
    plugin_folder f;
    const std::string serve = R"({"plugin_rescan_ms": 0, "http": {"auth_token": "s3cret"}})";
    running_server serving(f, serve, "warning");
    const auto url = serving.url + "/v1/admin/reload";
    BOOST_TEST(http("POST", url).first == 401);
    BOOST_TEST(http("POST", url, "wrong").first == 401);

    write_served_conf(f, serve, R"({"testkit": {"resilience": {"attempt_timeout_ms": 5000}}})");
    auto [code, body] = http("POST", url, "s3cret");
    BOOST_TEST_REQUIRE(code == 200, body);
    auto answer = json::parse(body);
    BOOST_TEST(answer.at("ok").as_bool());
    BOOST_TEST(answer.at("policies") == (json::array{"testkit"}));

    // A changed listen address is reported as needing a restart; the rest applies.
    write_served_conf(f, R"({"plugin_rescan_ms": 0, "http": {"auth_token": "s3cret", "listen": "127.0.0.1:1"}})", "{}");
    std::tie(code, body) = http("POST", url, "s3cret");
    BOOST_TEST_REQUIRE(code == 200, body);
    BOOST_TEST(json::parse(body).at("needs_restart") == (json::array{"serve"}));

    write_served_conf(f, serve, R"({"testkit": {"config": {"label": 42}}})");
    std::tie(code, body) = http("POST", url, "s3cret");
    BOOST_TEST(code == 422, body);
    BOOST_TEST(contains(body, "/tools/testkit/config/label"), body);
    BOOST_TEST(serving.process.stop(SIGTERM) == 0, serving.process.err());
}

// list, info, call and status with --server URL ask a running `toolhost serve`, so a tool keeps
// its state from one command to the next; answers, errors and exit codes are those of the
// commands without it.
BOOST_AUTO_TEST_CASE(one_shot_commands_talk_to_a_running_server) {
    plugin_folder f;
    fs::remove(f.plugins / "broken.so");
    running_server serving(f, "{}", "warning");
    auto remote = [&](std::vector<std::string> args) {
        args.insert(args.end(), {"--server", serving.url});
        return run_toolhost(args);
    };
    auto calls_so_far = [&] {
        auto r = remote({"call", "testkit_mt", "stats", "--json"});
        BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
        return parse_stdout(r).at("result").at("calls").as_int64();
    };
    // One process per call forgets; the server remembers.
    const auto local = run_toolhost(f.args({"call", "testkit_mt", "stats", "--json"}));
    BOOST_TEST(parse_stdout(local).at("result").at("calls") == 1, local.out << local.err);
    const auto first = calls_so_far();
    BOOST_TEST(calls_so_far() == first + 1);

    auto r = remote({"call", "testkit_mt", "echo", R"({"a":[1,"é"]})"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(r.out == "{\"a\":[1,\"é\"]}\n");
    r = remote({"call", "testkit_mt", "context", "--request-id", "req-7", "--session-id", "s-1"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    BOOST_TEST(parse_stdout(r).at("request_id") == "req-7", r.out);
    BOOST_TEST(parse_stdout(r).at("session_id") == "s-1", r.out);

    // Failures: the same exit code and message as the same call without --server.
    const std::vector<std::string> failing = {"call", "testkit_mt", "fail", R"({"code":"NOT_FOUND","message":"gone"})"};
    r = remote(failing);
    const auto same_here =
        run_toolhost(f.args({"call", "testkit_mt", "fail", R"({"code":"NOT_FOUND","message":"gone"})"}));
    BOOST_TEST(r.exit_code == same_here.exit_code);
    BOOST_TEST(r.err == same_here.err);
    BOOST_TEST(r.out.empty());
    r = remote({"call", "testkit_mt", "fail", R"({"code":"NOT_FOUND","message":"gone"})", "--json"});
    BOOST_TEST(parse_stdout(r).at("error").at("code") == "NOT_FOUND", r.out);
    // wait_cancel answers only CANCELLED, which the host reports as DEADLINE_EXCEEDED at the
    // deadline (sleep would answer {"cancelled":true} if it saw the cancellation first).
    r = remote({"call", "testkit_mt", "wait_cancel", "--timeout-ms", "200"});
    BOOST_TEST(r.exit_code == 69, r.out << r.err);
    BOOST_TEST(contains(r.err, "DEADLINE_EXCEEDED"), r.err);
    r = remote({"call", "testkit_mt", "echo", "{bad"});
    BOOST_TEST(r.exit_code == 65, r.err);
    BOOST_TEST(contains(r.err, "ARGS_JSON is not valid JSON"), r.err);
    r = remote({"call", "nosuch", "op"});
    BOOST_TEST(r.exit_code != 0);
    BOOST_TEST(contains(r.err, "nosuch"), r.err);

    // list, info and status print what they print here, from the server's REST API.
    r = remote({"list"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "testkit_mt 1.0.0  Test fixture: every host feature on demand (thread-safe).\n"), r.out);
    BOOST_TEST(contains(r.out, "\n  stats  "), r.out);
    r = remote({"list", "--json"});
    BOOST_TEST(parse_stdout(r).at("tools").as_array().size() >= 2u, r.out);
    r = remote({"info", "testkit"});
    BOOST_TEST(r.exit_code == 0, r.err);
    BOOST_TEST(contains(r.out, "name:        testkit\n"), r.out);
    BOOST_TEST(contains(r.out, "state:       ready\n"), r.out);
    BOOST_TEST(contains(r.out, "  sleep  Sleeps in 1 ms steps"), r.out);
    BOOST_TEST(remote({"info", "nosuch"}).exit_code != 0);
    r = remote({"status"});
    BOOST_TEST(r.exit_code == 0, r.out << r.err);
    BOOST_TEST(contains(r.out, "testkit ready\n"), r.out);
    // Which host, serving which plugin set, sharing which database: what differs between hosts.
    BOOST_TEST(contains(r.out, "plugin set sha256:"), r.out);
    BOOST_TEST(contains(r.out, "database none (this host alone)\n"), r.out);
    r = remote({"status", "--json"});
    const auto status = parse_stdout(r);
    BOOST_TEST(status.at("ok") == true, r.out);
    BOOST_TEST(!status.at("node").as_string().empty(), r.out);
    BOOST_TEST(status.at("plugin_set").as_string().starts_with("sha256:"), r.out);
    BOOST_TEST(status.at("database").is_null(), r.out);

    // No server there: exit 69, and the message says where it looked.
    r = run_toolhost({"call", "testkit_mt", "echo", "--server", "http://127.0.0.1:1"});
    BOOST_TEST(r.exit_code == 69);
    BOOST_TEST(contains(r.err, "no answer from toolhost serve"), r.err);
    BOOST_TEST(serving.process.running(), serving.process.err());
}

// `toolhost new`: the languages it makes, a project's files with every placeholder filled in,
// and the refusals (bad name, unknown language, a folder in the way). That the projects build
// and pass their own tests against an installed toolhost is the `package` test's.
BOOST_AUTO_TEST_CASE(new_makes_a_plugin_project) {
    temp_dir dir;
    auto r = run_toolhost({"new"});
    BOOST_TEST(r.exit_code == 0, r.err);
    for (const char* lang : {"\n  c ", "\n  cpp ", "\n  rust ", "\n  python "})
        BOOST_TEST(contains(r.out, lang), r.out);
    r = run_toolhost({"new", "--json"});
    BOOST_TEST(parse_stdout(r).at("languages").as_array().size() == 4u);

    const std::map<std::string, std::vector<std::string>> expected = {
        {"c", {"CMakeLists.txt", "README.md", "toolhost_tests.cmake", "weather.c"}},
        {"cpp", {"CMakeLists.txt", "README.md", "toolhost_tests.cmake", "weather.cpp"}},
        {"rust", {"Cargo.toml", "README.md", "src/lib.rs", "tests/loads.rs"}},
        {"python", {"README.md", "test_weather.py", "tools/weather.py"}},
    };
    // A toolhost built without python3-dev (or under TSan) has no python plugin to make a project for.
    const bool has_python =
        fs::exists(fs::path(TOOLHOST_TEST_EXE).parent_path() / ".." / "lib" / "toolhost" / "python" / "python.so");
    for (const auto& [lang, files] : expected) {
        BOOST_TEST_CONTEXT(lang) {
            const fs::path project = dir / lang;
            r = run_toolhost({"new", "weather", "--lang", lang, "--dir", project.string(), "--json"});
            if (lang == "python" && !has_python) {
                BOOST_TEST(r.exit_code == 69, r.err);
                BOOST_TEST(contains(r.out, "this toolhost has no python plugin at "),
                           r.out);  // --json: the failure JSON
                BOOST_TEST(!fs::exists(project));
                continue;
            }
            BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
            BOOST_TEST(parse_stdout(r).at("files").as_array().size() == files.size(), r.out);
            for (const auto& f : files) {
                BOOST_TEST_REQUIRE(fs::is_regular_file(project / f), f);
                const std::string text = toolhost::test::read_file(project / f);
                BOOST_TEST(!contains(text, "@NAME@"), f);
                BOOST_TEST(!contains(text, "@TOOLHOST@"), f);
                BOOST_TEST(!contains(text, "@SDK_RUST@"), f);
                BOOST_TEST(!contains(text, "@CMAKE_HINT@"), f);
                BOOST_TEST(!contains(text, "@PYTHON_PLUGIN_DIR@"), f);
            }
            // A second time into the same folder: refused, nothing overwritten.
            r = run_toolhost({"new", "weather", "--lang", lang, "--dir", project.string()});
            BOOST_TEST(r.exit_code == 73, r.err);
            BOOST_TEST(contains(r.err, "already exists"), r.err);
        }
    }
    BOOST_TEST(contains(toolhost::test::read_file(dir / "c" / "weather.c"), R"("weather")"));
    BOOST_TEST(contains(toolhost::test::read_file(dir / "cpp" / "CMakeLists.txt"), "-DToolhost_DIR="));
    // The Rust project depends on the SDK crate of this toolhost (the source tree's, from a build tree).
    const std::string cargo = toolhost::test::read_file(dir / "rust" / "Cargo.toml");
    const std::string sdk = std::string(TOOLHOST_TEST_SOURCE_DIR) + "/sdk/rust/toolhost-sdk";
    BOOST_TEST(contains(cargo, "toolhost-sdk = { path = \"" + sdk + "\" }"), cargo);

    r = run_toolhost({"new", "Weather", "--lang", "c", "--dir", (dir / "x").string()});
    BOOST_TEST(r.exit_code == 64);
    BOOST_TEST(contains(r.err, "cannot name a plugin project"), r.err);
    r = run_toolhost({"new", "weather", "--lang", "cobol", "--dir", (dir / "x").string()});
    BOOST_TEST(r.exit_code == 64);
    BOOST_TEST(contains(r.err, "unknown --lang 'cobol' (known: c, cpp, rust, python)"), r.err);
    r = run_toolhost({"new", "weather", "--dir", (dir / "x").string()});
    BOOST_TEST(r.exit_code == 64);
    BOOST_TEST(!fs::exists(dir / "x"));
}
