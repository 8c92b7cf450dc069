// The python plugin (plugins/python) serving real Python tool classes written in the seed's style
// (tests/python/tools), through the real toolhost executable: `list` and `inspect`, `call` in
// process and isolated, cancellation at the deadline, exceptions and their tracebacks, broken
// files, concurrent calls and MCP over `serve --stdio`, and the scan cache following the folder.
#define BOOST_TEST_MODULE python_plugin
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <chrono>
#include <set>
#include <sstream>

namespace fs = std::filesystem;
namespace json = boost::json;
using toolhost::test::contains;
using toolhost::test::process_result;
using toolhost::test::temp_dir;

namespace {

using steady = std::chrono::steady_clock;

// A work folder: python.so alone in plugins/, a copy of the fixture tools in tools/ (with the
// modes an operator must give them: the plugin refuses code others could write), a configuration
// with `tools_section` as its "tools" object, and the scan cache in var/.
struct python_folder {
    temp_dir dir;
    fs::path plugins = dir / "plugins";
    fs::path tools = dir / "tools";
    fs::path conf = dir / "toolhost.json";

    explicit python_folder(const std::string& tools_section = "{}", const std::string& isolation = "in_process") {
        fs::create_directory(plugins);
        fs::permissions(plugins, fs::perms::owner_all);
        toolhost::test::copy_into(TOOLHOST_TEST_PYTHON_PLUGIN, plugins, "python.so");
        fs::create_directory(tools);
        fs::permissions(tools, fs::perms::owner_all);
        for (const auto& e : fs::directory_iterator(TOOLHOST_TEST_PYTHON_TOOLS))
            if (e.path().extension() == ".py")
                add_tool(e.path().filename().string(), toolhost::test::read_file(e.path()));
        configure(tools_section, isolation);
    }
    void configure(const std::string& tools_section, const std::string& isolation = "in_process") const {
        toolhost::test::write_file(conf, R"({"data_dir": ")" + (dir / "var").string() + R"(", "isolation": ")" +
                                             isolation + R"(", "tools": )" + tools_section + "}");
    }
    void add_tool(const std::string& name, const std::string& text) const {
        toolhost::test::write_file(tools / name, text);
        fs::permissions(tools / name, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                                          fs::perms::others_read);
    }
    std::map<std::string, std::string> env(const fs::path& python_path = {}) const {
        return {{"TOOLHOST_CONFIG", ""},
                {"TOOLHOST_PLUGIN_PATH", ""},
                {"TOOLHOST_LOG_LEVEL", "warning"},
                {"TOOLHOST_PYTHON_PATH", (python_path.empty() ? tools : python_path).string()}};
    }
    process_result run(std::vector<std::string> args, const std::string& input = {},
                       const fs::path& python_path = {}) const {
        std::vector<std::string> argv{TOOLHOST_TEST_EXE,      "--config",     conf.string(),
                                      "--no-default-plugins", "--plugin-dir", plugins.string()};
        argv.insert(argv.end(), args.begin(), args.end());
        return toolhost::test::run_process(argv, input, env(python_path));
    }
};

json::value parse_stdout(const process_result& r) {
    boost::system::error_code ec;
    auto v = json::parse(r.out, ec);
    BOOST_TEST_REQUIRE(!ec, "stdout is not one JSON value: " << r.out << "\nstderr: " << r.err);
    return v;
}

// `toolhost call TOOL OP ARGS --json [more]`: the exit code and the answer.
struct call_answer {
    int exit_code;
    json::value answer;
    std::string err;
    double seconds;
};
call_answer call(const python_folder& f, const std::string& tool, const std::string& op, const std::string& args,
                 std::vector<std::string> more = {}) {
    std::vector<std::string> a{"call", tool, op, args, "--json"};
    a.insert(a.end(), more.begin(), more.end());
    const auto start = steady::now();
    auto r = f.run(a);
    const double s = std::chrono::duration<double>(steady::now() - start).count();
    return {r.exit_code, parse_stdout(r), r.err, s};
}

std::string error_code(const call_answer& a) { return std::string(a.answer.at("error").at("code").as_string()); }
std::string error_message(const call_answer& a) { return std::string(a.answer.at("error").at("message").as_string()); }

const json::object* find_tool(const json::value& list, std::string_view name) {
    for (const auto& t : list.at("tools").as_array())
        if (t.at("name").as_string() == name) return &t.as_object();
    return nullptr;
}

std::set<std::string> tool_names(const json::value& list) {
    std::set<std::string> out;
    for (const auto& t : list.at("tools").as_array()) out.insert(std::string(t.at("name").as_string()));
    return out;
}

}  // namespace

BOOST_AUTO_TEST_CASE(list_describes_the_tool_classes_and_infers_schemas_from_type_hints) {
    python_folder f;
    auto r = f.run({"list", "--json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    const auto list = parse_stdout(r);
    // Every class that can be served is; the broken file and the bad classes are not.
    BOOST_TEST((tool_names(list) == std::set<std::string>{"py_fail", "py_greeter", "py_init_fails", "py_rendezvous",
                                                          "py_search", "py_slow", "py_spin", "py_survivor",
                                                          "py_sync_rendezvous"}),
               json::serialize(list));

    // Seed style: name and description set in __init__; one operation, "execute".
    const auto* greeter = find_tool(list, "py_greeter");
    BOOST_TEST_REQUIRE(greeter != nullptr);
    BOOST_TEST(greeter->at("description").as_string() == "Greets people (a synchronous tool in the seed's style).");
    const auto& gop = greeter->at("operations").as_array().at(0).as_object();
    BOOST_TEST(gop.at("name").as_string() == "execute");
    BOOST_TEST(gop.at("description").as_string() == "Greets `name`.");
    BOOST_TEST(gop.at("cancellable") == false);  // synchronous: it cannot be interrupted
    BOOST_TEST(json::serialize(gop.at("input_schema")) ==
               R"({"type":"object","properties":{"name":{"type":"string","description":"Who to greet."},)"
               R"("excited":{"type":"boolean","description":"End with an exclamation mark.","default":false}},)"
               R"("required":["name"],"additionalProperties":false})");

    // Async: Optional[List[str]], defaults and Args: docs; cancellable because it is a coroutine;
    // initialize(config) makes it take a configuration object.
    const auto* search = find_tool(list, "py_search");
    BOOST_TEST_REQUIRE(search != nullptr);
    const auto& sop = search->at("operations").as_array().at(0).as_object();
    BOOST_TEST(sop.at("cancellable") == true);
    BOOST_TEST(json::serialize(sop.at("input_schema")) ==
               R"({"type":"object","properties":{"query":{"type":"string","description":"What to look for."},)"
               R"("limit":{"type":"integer","description":"At most this many hits.","default":3},)"
               R"("tags":{"type":["array","null"],"items":{"type":"string"},)"
               R"("description":"Only hits with one of these tags."}},"required":["query"],)"
               R"("additionalProperties":false})");
    BOOST_TEST(json::serialize(search->at("config_schema")) == R"({"type":"object"})");

    // Explicit operations: names, schemas and flags as written.
    const auto* fail = find_tool(list, "py_fail");
    BOOST_TEST_REQUIRE(fail != nullptr);
    std::vector<std::string> ops;
    for (const auto& o : fail->at("operations").as_array()) ops.emplace_back(o.at("name").as_string());
    BOOST_TEST((ops == std::vector<std::string>{"boom", "not_found", "not_json", "exits"}));
    const auto& nf = fail->at("operations").as_array().at(1).as_object();
    BOOST_TEST(nf.at("read_only") == true);
    BOOST_TEST(nf.at("idempotent") == true);
    BOOST_TEST(fail->at("operations").as_array().at(2).at("cancellable") == true);  // async not_json

    // __call__ instead of execute.
    const auto* survivor = find_tool(list, "py_survivor");
    BOOST_TEST_REQUIRE(survivor != nullptr);
    BOOST_TEST(json::serialize(survivor->at("operations").as_array().at(0).at("input_schema")) ==
               R"({"type":"object","properties":{"word":{"type":"string","default":"still here"}},)"
               R"("additionalProperties":false})");
}

BOOST_AUTO_TEST_CASE(inspect_shows_one_exported_symbol_and_loads) {
    python_folder f;
    auto r = f.run({"inspect", (f.plugins / "python.so").string(), "--json"});
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.out << r.err);
    const auto v = parse_stdout(r);
    BOOST_TEST(v.at("loads") == true);
    BOOST_TEST(json::serialize(v.at("elf").at("exported")) == R"(["toolhost_plugin_entry_v1"])");
    bool links_libpython = false;
    for (const auto& n : v.at("elf").at("needed").as_array())
        links_libpython |= n.as_string().starts_with("libpython3");
    BOOST_TEST(links_libpython, json::serialize(v.at("elf")));
}

BOOST_AUTO_TEST_CASE(a_synchronous_seed_style_tool_answers_and_its_prints_are_logged) {
    python_folder f;
    auto a = call(f, "py_greeter", "execute", R"({"name":"Ada","excited":true})", {"--log-level", "info"});
    BOOST_TEST_REQUIRE(a.exit_code == 0, a.err);
    // _initialize() ran; the helper module of the same folder was imported.
    BOOST_TEST(json::serialize(a.answer) == R"({"ok":true,"result":{"greeting":"Hello, Ada!","initialized":true}})");
    // print() at import time and logging.getLogger(...).warning() reach the host's log, never
    // stdout (the scanner process would refuse python.so for a byte there: `list` above lists it).
    BOOST_TEST(contains(a.err, "[plugin.python.so] greeter.py imported"), a.err);
    BOOST_TEST(contains(a.err, "[plugin.py_greeter] greeter: greeting Ada"), a.err);
    // The host checked the arguments against the inferred schema before Python saw them.
    auto bad = call(f, "py_greeter", "execute", R"({"name":"Ada","loud":true})");
    BOOST_TEST(bad.exit_code == 65);
    BOOST_TEST(error_code(bad) == "INVALID_ARGUMENT");
    auto missing = call(f, "py_greeter", "execute", R"({})");
    BOOST_TEST(error_code(missing) == "INVALID_ARGUMENT");
    BOOST_TEST(contains(error_message(missing), "name"), error_message(missing));
}

BOOST_AUTO_TEST_CASE(an_async_tool_gets_its_configuration_and_returns_a_dataclass_as_json) {
    python_folder f(R"({"py_search": {"config": {"index": "kb"}}})");
    auto a = call(f, "py_search", "execute", R"({"query":"refund","limit":2,"tags":["billing"]})");
    BOOST_TEST_REQUIRE(a.exit_code == 0, a.err);
    BOOST_TEST(json::serialize(a.answer) ==
               R"({"ok":true,"result":{"success":true,"data":{"hits":["refund-0","refund-1"],"tags":["billing"]},)"
               R"("error":null,"metadata":{"index":"kb"}}})");
    // toolhost.log() during the call lands on the tool's channel.
    BOOST_TEST(contains(a.err, "[plugin.py_search] searching kb for refund"), a.err);
}

BOOST_AUTO_TEST_CASE(an_exception_is_internal_with_its_traceback_in_the_tools_log) {
    python_folder f;
    auto a = call(f, "py_fail", "boom", "{}");
    BOOST_TEST(a.exit_code == 70);
    BOOST_TEST(error_code(a) == "INTERNAL");
    BOOST_TEST(error_message(a) ==
                   "py_fail.boom raised ValueError: boom: the backend said no (at failing.py:19; the traceback is in "
                   "the tool's log)",
               error_message(a));
    BOOST_TEST(contains(a.err, "[plugin.py_fail] Traceback (most recent call last):"), a.err);
    BOOST_TEST(contains(a.err, "raise ValueError(\"boom: the backend said no\")"), a.err);

    // sys.exit() in a tool ends the call, not the host.
    auto e = call(f, "py_fail", "exits", "{}");
    BOOST_TEST(error_code(e) == "INTERNAL");
    BOOST_TEST(contains(error_message(e), "py_fail.exits raised SystemExit: 3"), error_message(e));
}

BOOST_AUTO_TEST_CASE(a_tool_error_names_its_status_and_a_result_must_be_json) {
    python_folder f;
    auto a = call(f, "py_fail", "not_found", R"({"id":42})");
    BOOST_TEST(a.exit_code == 65);
    BOOST_TEST(json::serialize(a.answer) ==
               R"({"ok":false,"error":{"code":"NOT_FOUND","message":"customer 42 does not exist"}})");
    BOOST_TEST(!contains(a.err, "[plugin.py_fail] Traceback"), a.err);  // an expected failure: no traceback

    auto j = call(f, "py_fail", "not_json", "{}");
    BOOST_TEST(j.exit_code == 70);
    BOOST_TEST(error_code(j) == "INTERNAL");
    BOOST_TEST(error_message(j) ==
                   "py_fail.not_json returned a value that is not JSON: Object of type object is not "
                   "JSON serializable",
               error_message(j));
}

BOOST_AUTO_TEST_CASE(a_slow_coroutine_is_cancelled_at_the_deadline) {
    python_folder f;
    auto a = call(f, "py_slow", "execute", R"({"seconds":30})", {"--timeout-ms", "300"});
    BOOST_TEST(a.exit_code == 69);
    BOOST_TEST(error_code(a) == "DEADLINE_EXCEEDED");
    // The task was cancelled (the coroutine saw CancelledError at ~0.3 s) and the call returned:
    // the command did not have to leave plugin code behind.
    BOOST_TEST(contains(a.err, "py_slow: cancelled after 0."), a.err);
    BOOST_TEST(!contains(a.err, "still run in plugin code"), a.err);
    BOOST_TEST(a.seconds < 10.0);
}

BOOST_AUTO_TEST_CASE(a_synchronous_tool_stops_when_it_polls_cancelled) {
    python_folder f;
    auto a = call(f, "py_spin", "execute", R"({"seconds":30})", {"--timeout-ms", "300"});
    BOOST_TEST(a.exit_code == 69);
    BOOST_TEST(error_code(a) == "DEADLINE_EXCEEDED");
    BOOST_TEST(contains(a.err, "py_spin: stopped after"), a.err);
    BOOST_TEST(!contains(a.err, "still run in plugin code"), a.err);
    BOOST_TEST(a.seconds < 10.0);
}

BOOST_AUTO_TEST_CASE(broken_files_and_classes_are_reported_and_the_others_served) {
    python_folder f;
    auto a = call(f, "py_survivor", "execute", R"({"word":"hi"})");
    BOOST_TEST_REQUIRE(a.exit_code == 0, a.err);
    BOOST_TEST(json::serialize(a.answer) == R"({"ok":true,"result":{"word":"hi"}})");
    // Each problem names the file and the class, in the log of the library's channel.
    const std::string file = (f.tools / "bad_classes.py").string();
    BOOST_TEST(contains(a.err, (f.tools / "broken.py").string() + ": cannot import it: SyntaxError"), a.err);
    BOOST_TEST(contains(a.err, file + ": class Nameless: no tool name"), a.err);
    BOOST_TEST(contains(a.err, file + ": class ConstructorFails: it has no `name` class attribute, and "
                                      "ConstructorFails() raised OSError: cannot read the model file"),
               a.err);

    // initialize() raising: the tool does not start, and says which class of which file failed.
    auto i = call(f, "py_init_fails", "execute", "{}");
    BOOST_TEST(i.exit_code == 69);
    BOOST_TEST(contains(error_message(i), "python tool 'py_init_fails' (class InitFails in " + file +
                                              "): initialize() raised RuntimeError: the database is not there"),
               error_message(i));

    // Code that others could change is refused, as plugin files are; the rest is still served.
    fs::permissions(f.tools / "greeter.py", fs::perms::group_write, fs::perm_options::add);
    auto g = call(f, "py_greeter", "execute", R"({"name":"x"})");
    BOOST_TEST(g.exit_code == 69);
    BOOST_TEST(error_code(g) == "NOT_FOUND");
    auto s = call(f, "py_survivor", "execute", "{}");
    BOOST_TEST(s.exit_code == 0, s.err);
    BOOST_TEST(contains(s.err, (f.tools / "greeter.py").string() +
                                   ": refused: the file is writable by its group (mode 0664), so another user could "
                                   "replace the code; fix with: chmod go-w"),
               s.err);
}

BOOST_AUTO_TEST_CASE(an_isolated_python_tool_runs_in_a_worker_process) {
    python_folder f(R"({"py_search": {"config": {"index": "isolated"}}})", "process");
    auto s = f.run({"status", "--json"});
    BOOST_TEST(contains(s.out, R"("name":"py_search")"), s.out);
    BOOST_TEST(contains(s.out, R"("isolation":"process","worker":{"pid":)"), s.out);
    auto a = call(f, "py_search", "execute", R"({"query":"q","limit":1})");
    BOOST_TEST_REQUIRE(a.exit_code == 0, a.err);
    BOOST_TEST(json::serialize(a.answer.at("result").at("metadata")) == R"({"index":"isolated"})");
    // Cancellation reaches the coroutine in the worker too.
    auto slow = call(f, "py_slow", "execute", R"({"seconds":30})", {"--timeout-ms", "300"});
    BOOST_TEST(error_code(slow) == "DEADLINE_EXCEEDED");
    BOOST_TEST(contains(slow.err, "py_slow: cancelled after 0."), slow.err);
    BOOST_TEST(slow.seconds < 10.0);
}

BOOST_AUTO_TEST_CASE(over_mcp_stdio_calls_run_concurrently) {
    python_folder f;
    std::string input;
    auto line = [&](const json::value& v) { input += json::serialize(v) + "\n"; };
    line({{"jsonrpc", "2.0"},
          {"id", 1},
          {"method", "initialize"},
          {"params",
           {{"protocolVersion", "2025-06-18"},
            {"capabilities", json::object{}},
            {"clientInfo", {{"name", "t"}, {"version", "1"}}}}}});
    line({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
    line({{"jsonrpc", "2.0"}, {"id", 2}, {"method", "tools/list"}});
    auto tools_call = [&](int id, const char* name, json::object args) {
        line({{"jsonrpc", "2.0"},
              {"id", id},
              {"method", "tools/call"},
              {"params", {{"name", name}, {"arguments", std::move(args)}}}});
    };
    tools_call(3, "py_greeter_execute", {{"name", "MCP"}});
    tools_call(4, "py_fail_not_found", {{"id", 7}});
    // Three coroutines that only return when all three run at once, and three synchronous calls
    // that only return when three host threads run them at once.
    for (int id = 10; id < 13; ++id) tools_call(id, "py_rendezvous_execute", {{"parties", 3}});
    for (int id = 20; id < 23; ++id) tools_call(id, "py_sync_rendezvous_execute", {{"parties", 3}});
    auto r = f.run({"serve", "--stdio"}, input);
    BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
    std::map<int64_t, json::value> by_id;
    std::istringstream out(r.out);
    for (std::string l; std::getline(out, l);) {
        boost::system::error_code ec;
        auto v = json::parse(l, ec);
        BOOST_TEST_REQUIRE(!ec, "stdout carries only JSON-RPC lines, got: " + l);
        if (v.as_object().contains("id")) by_id[v.at("id").to_number<int64_t>()] = v;
    }
    BOOST_TEST_REQUIRE(by_id.size() == 10u, r.out);
    bool listed = false;
    for (const auto& t : by_id[2].at("result").at("tools").as_array())
        if (t.at("name") == "py_search_execute") listed = t.at("inputSchema").at("required") == json::array{"query"};
    BOOST_TEST(listed, json::serialize(by_id[2]));
    BOOST_TEST(json::serialize(by_id[3].at("result").at("structuredContent")) ==
               R"({"greeting":"Hello, MCP","initialized":true})");
    BOOST_TEST(by_id[4].at("result").at("isError") == true);
    BOOST_TEST(contains(json::serialize(by_id[4].at("result")), "customer 7 does not exist"));
    for (int id : {10, 11, 12, 20, 21, 22})
        BOOST_TEST(json::serialize(by_id[id].at("result").at("structuredContent").at("met")) == "true",
                   id << ": " << json::serialize(by_id[id]));
}

BOOST_AUTO_TEST_CASE(the_scan_cache_follows_the_folder_and_the_variable_naming_it) {
    python_folder f;
    auto list = [&](const fs::path& python_path = {}) {
        auto r = f.run({"list", "--json", "--log-level", "debug"}, {}, python_path);
        BOOST_TEST_REQUIRE(r.exit_code == 0, r.err);
        return std::pair{tool_names(parse_stdout(r)), r.err};
    };
    auto [first, log1] = list();
    BOOST_TEST(first.count("py_greeter") == 1u);
    // Unchanged: answered from the cache, which recorded what the tool list was read from.
    auto [again, log2] = list();
    BOOST_TEST((again == first));
    BOOST_TEST(contains(log2, "cached=true"), log2);
    const std::string cache = toolhost::test::read_file(f.dir / "var" / "plugin-scan-cache.json");
    BOOST_TEST(contains(cache, R"("kind":"env","name":"TOOLHOST_PYTHON_PATH")"), cache);
    BOOST_TEST(contains(cache, R"("kind":"path","name":")" + (f.tools / "greeter.py").string()), cache);

    // A new file in the folder: the same python.so, a new tool list.
    f.add_tool("added.py", "class Added:\n    name = 'py_added'\n    def execute(self) -> dict:\n        return {}\n");
    auto [added, log3] = list();
    BOOST_TEST(added.count("py_added") == 1u);
    BOOST_TEST(!contains(log3, "cached=true"), log3);
    // A file written in place (the folder itself does not change).
    f.add_tool("added.py",
               "class Added:\n    name = 'py_renamed'\n    def execute(self) -> dict:\n        return {}\n");
    auto [renamed, log4] = list();
    BOOST_TEST(renamed.count("py_renamed") == 1u);
    BOOST_TEST(renamed.count("py_added") == 0u);
    // A helper module the tool files import is an input too.
    f.add_tool("_greeting.py", "def salutation():\n    return 'Hi'\n");
    auto [helper, log5] = list();
    BOOST_TEST(!contains(log5, "cached=true"), log5);
    // Another folder named by TOOLHOST_PYTHON_PATH.
    const fs::path other = f.dir / "other";
    fs::create_directory(other);
    fs::permissions(other, fs::perms::owner_all);
    toolhost::test::write_file(
        other / "solo.py", "class Solo:\n    name = 'py_solo'\n    def execute(self) -> dict:\n        return {}\n");
    fs::permissions(other / "solo.py", fs::perms::owner_read | fs::perms::owner_write);
    auto [solo, log6] = list(other);
    BOOST_TEST((solo == std::set<std::string>{"py_solo"}));
}
