// toolhost validate-plugin: the argument generator on its own, then the real command on every
// bundled plugin (each passes) and on fixtures that break one rule each (each fails exactly the
// check about its rule, with a message that says what happened).
#define BOOST_TEST_MODULE validate_plugin
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"
#include "validate/argument_cases.hpp"

#include <toolhost/json_schema.hpp>
#include <toolhost/json_text.hpp>

#include <boost/json/parse.hpp>

#include <set>

namespace fs = std::filesystem;
namespace json = boost::json;
using toolhost::cli::validate::argument_case;
using toolhost::cli::validate::generate_cases;
using toolhost::test::contains;
using toolhost::test::process_result;

namespace {

process_result run_toolhost(std::vector<std::string> args) {
    args.insert(args.begin(), TOOLHOST_TEST_EXE);
    return toolhost::test::run_process(args, {},
                                       {{"TOOLHOST_CONFIG", ""},
                                        {"TOOLHOST_PLUGIN_PATH", ""},
                                        {"TOOLHOST_LOG_LEVEL", "warning"},
                                        {"XDG_CONFIG_HOME", "/nonexistent"}});
}

// The report of `validate-plugin FILE --json`, required to be one JSON object.
json::object validate_json(const fs::path& file, std::vector<std::string> more = {}) {
    std::vector<std::string> args{"validate-plugin", file.string(), "--json"};
    args.insert(args.end(), more.begin(), more.end());
    const auto r = run_toolhost(args);
    boost::system::error_code ec;
    auto v = json::parse(r.out, ec);
    BOOST_TEST_REQUIRE(!ec, "stdout is not JSON: " << r.out << "\nstderr: " << r.err);
    BOOST_TEST_REQUIRE(v.is_object());
    auto o = v.as_object();
    o["exit_code"] = r.exit_code;
    o["stderr"] = r.err;
    return o;
}

std::set<std::string> with_result(const json::object& report, std::string_view result) {
    std::set<std::string> names;
    for (const auto& c : report.at("checks").as_array())
        if (c.at("result").as_string() == result) names.insert(std::string(c.at("name").as_string()));
    return names;
}

std::string all_failures(const json::object& report) {
    std::string s;
    for (const auto& c : report.at("checks").as_array())
        if (const auto* f = c.as_object().if_contains("failures"))
            for (const auto& x : f->as_array())
                s += std::string(c.at("name").as_string()) + ": " + std::string(x.as_string()) + "\n";
    return s;
}

fs::path fixture(std::string_view rule) {
    return fs::path(TOOLHOST_VALIDATE_FIXTURE_DIR) / ("vfix_" + std::string(rule) + ".so");
}

json::value schema_of(std::string_view text) { return json::parse(text); }

}  // namespace

// ------------------------------------------------------------------------------ the generator

BOOST_AUTO_TEST_CASE(generated_cases_agree_with_the_host_validator) {
    // The shapes the bundled tools' schemas use: patterns, formats, enums, bounded and unbounded
    // numbers, arrays with item constraints, oneOf/anyOf alternatives, $ref.
    const char* schemas[] = {
        R"({"type":"object","properties":{"id":{"type":"string","pattern":"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"},
            "limit":{"type":"integer","minimum":1,"maximum":50},"email":{"type":"string","format":"email"}},
            "required":["id"],"additionalProperties":false})",
        R"({"type":"object","properties":{"session_id":{"type":"string","minLength":1,"maxLength":128},
            "since":{"type":"string","format":"date-time"},"importance":{"type":"number","minimum":0,"maximum":1},
            "tags":{"type":"array","items":{"type":"string","minLength":1,"maxLength":32},"maxItems":8,"uniqueItems":true},
            "id":{"type":"integer","minimum":1}},"anyOf":[{"required":["id"]},{"required":["session_id"]}],
            "additionalProperties":false})",
        R"({"type":"object","properties":{"path":{"type":"string","minLength":1},"content":{"type":"string"},
            "filename":{"type":"string","minLength":1,"maxLength":255},"max_chars":{"type":"integer","minimum":1}},
            "oneOf":[{"required":["path"]},{"required":["content","filename"]}],"additionalProperties":false})",
        R"({"type":"object","definitions":{"kind":{"enum":["a","b","c"]}},"properties":{"kind":{"$ref":"#/definitions/kind"},
            "weight":{"type":"number","exclusiveMinimum":0},"flag":{"type":"boolean"},"note":{"type":["string","null"]}},
            "required":["kind"]})",
    };
    for (const char* text : schemas) {
        const json::value schema = schema_of(text);
        auto compiled = toolhost::json_schema::compile(schema);
        BOOST_TEST_REQUIRE(compiled.has_value(), text);
        const auto cases = generate_cases(schema);
        std::size_t valid = 0, invalid = 0;
        for (const argument_case& c : cases) {
            const auto error = c.arguments.is_object()
                                   ? compiled->validate(c.arguments)
                                   : std::optional<toolhost::validation_error>({"", "not an object"});
            if (c.valid) {
                ++valid;
                BOOST_TEST(!error.has_value(), "valid case '" << c.label
                                                              << "' refused: " << toolhost::json_text(c.arguments)
                                                              << ": " << (error ? error->to_string() : ""));
            } else {
                ++invalid;
                BOOST_TEST(error.has_value(),
                           "invalid case '" << c.label << "' accepted: " << toolhost::json_text(c.arguments));
            }
        }
        BOOST_TEST(valid >= 3u, text);
        BOOST_TEST(invalid >= 3u, text);
    }
}

BOOST_AUTO_TEST_CASE(generated_cases_hold_the_edge_values_the_schema_allows) {
    const json::value schema = schema_of(R"({"type":"object","properties":{
        "short":{"type":"string","maxLength":40},"free":{"type":"string"},
        "n":{"type":"integer","minimum":-3,"maximum":7},"big":{"type":"integer"},"x":{"type":"number","maximum":2.5}},
        "required":["short"]})");
    const auto cases = generate_cases(schema);
    auto find = [&](std::string_view label) -> const json::object& {
        for (const auto& c : cases)
            if (c.label == label) return c.arguments.as_object();
        BOOST_FAIL("no case '" << label << "'");
        static const json::object none;
        return none;
    };
    BOOST_TEST(find("minimal").size() == 1u);  // the required property only
    BOOST_TEST(find("every property").size() == 5u);
    BOOST_TEST(find("empty strings").at("free").as_string().empty());
    BOOST_TEST(find("long strings").at("short").as_string().size() == 40u);
    BOOST_TEST(find("long strings").at("free").as_string().size() == 10u * 1024u);
    const std::string unicode(find("unicode strings").at("free").as_string());
    BOOST_TEST(contains(unicode, "\xf0\x9f\x98\x80"));  // beyond the basic multilingual plane
    BOOST_TEST(contains(unicode, std::string_view("\0", 1)));
    BOOST_TEST(find("lowest values").at("n").as_int64() == -3);
    BOOST_TEST(find("highest values").at("n").as_int64() == 7);
    BOOST_TEST(find("highest values").at("big").as_int64() == 9007199254740991);
    BOOST_TEST(find("lowest values").at("big").as_int64() == -9007199254740991);
    BOOST_TEST(find("highest values").at("x").as_double() == 2.5);
    std::set<std::string> keywords;
    for (const auto& c : cases)
        if (!c.valid) keywords.insert(c.keyword);
    for (const char* k : {"type", "required", "minimum", "maximum", "maxLength"})
        BOOST_TEST(keywords.count(k) == 1u, k);
}

BOOST_AUTO_TEST_CASE(generation_is_deterministic) {
    const json::value schema = schema_of(R"({"type":"object","properties":{"a":{"type":"string","pattern":"^[a-z]+$"},
        "b":{"type":"array","items":{"type":"integer"},"minItems":2}},"required":["a","b"]})");
    const auto first = generate_cases(schema), second = generate_cases(schema);
    BOOST_TEST_REQUIRE(first.size() == second.size());
    for (std::size_t i = 0; i < first.size(); ++i) {
        BOOST_TEST(first[i].label == second[i].label);
        BOOST_TEST(first[i].arguments == second[i].arguments);
    }
}

// ------------------------------------------------------------------------------ the command

BOOST_AUTO_TEST_CASE(every_bundled_plugin_passes) {
    std::size_t checked = 0;
    for (const auto& e : fs::directory_iterator(TOOLHOST_TEST_PLUGIN_DIR)) {
        if (e.path().extension() != ".so") continue;
        ++checked;
        const auto report = validate_json(e.path());
        BOOST_TEST(report.at("exit_code").as_int64() == 0, e.path().filename() << " fails:\n"
                                                                               << all_failures(report)
                                                                               << report.at("stderr").as_string());
        BOOST_TEST(report.at("ok").as_bool());
        BOOST_TEST(with_result(report, "fail").empty());
        // What every plugin has to show, whatever it offers.
        for (const char* c : {"loads", "exports", "descriptors", "lifecycle", "leaks", "calls", "invalid_arguments",
                              "results", "no_stdout"})
            BOOST_TEST(with_result(report, "pass").count(c) == 1u, e.path().filename() << ": " << c);
    }
    BOOST_TEST(checked >= 7u);  // rag, memory, escalation, attachment, crm, echo, clock
}

BOOST_AUTO_TEST_CASE(a_plugin_that_keeps_every_rule_passes_every_check) {
    const auto report = validate_json(fixture("good"), {"--timeout-ms", "2000"});
    BOOST_TEST(report.at("exit_code").as_int64() == 0, all_failures(report) << report.at("stderr").as_string());
    BOOST_TEST(with_result(report, "fail").empty());
    // All pass but cancellation (nothing is flagged cancellable) and errors (no call fails).
    BOOST_TEST(with_result(report, "skip") == (std::set<std::string>{"cancellation", "errors"}));
}

BOOST_AUTO_TEST_CASE(each_rule_broken_fails_its_check_and_says_what_happened) {
    struct expectation {
        const char* rule;
        std::set<std::string> failing;
        std::vector<const char*> said;  // in the failures
    };
    const expectation table[] = {
        {"loads", {"loads"}, {"built for toolhost ABI 2.", "rebuild the plugin"}},
        {"exports", {"exports"}, {"vfix_extra_symbol", "toolhost_add_plugin"}},
        {"descriptors", {"descriptors"}, {"vfix.measure", "\"array\"", "always a JSON object"}},
        {"lifecycle", {"lifecycle"}, {"vfix did not start", "cannot reach the backend"}},
        {"leak_fd", {"leaks"}, {"file descriptors", "/dev/null", "cleanup()"}},
        {"leak_thread", {"leaks"}, {"more threads", "join"}},
        {"calls", {"calls"}, {"SIGSEGV", "vfix.measure", "'long strings'"}},
        {"hang", {"calls"}, {"did not return within 1000 ms", "is_cancelled"}},
        {"invalid_arguments", {"invalid_arguments"}, {"reached the plugin", "dependentRequired", "dependencies"}},
        {"results", {"results"}, {"not valid JSON", "vfix.measure"}},
        {"output_schema", {"output_schema"}, {"output_schema refuses", "length"}},
        {"errors", {"errors"}, {"INTERNAL and no message", "set_error"}},
        {"no_stdout", {"no_stdout"}, {"debug: measure was called", "log through the host"}},
        {"thread_safety", {"thread_safety"}, {"SIGABRT", "threads at once"}},
        {"cancellation", {"cancellation"}, {"went on for", "after its call was cancelled", "CANCELLABLE"}},
    };
    for (const auto& e : table) {
        BOOST_TEST_CONTEXT("fixture vfix_" << e.rule) {
            const auto report = validate_json(fixture(e.rule), {"--timeout-ms", "1000"});
            BOOST_TEST(report.at("exit_code").as_int64() == 1, report.at("stderr").as_string());
            BOOST_TEST(!report.at("ok").as_bool());
            BOOST_TEST(with_result(report, "fail") == e.failing, all_failures(report));
            const std::string failures = all_failures(report);
            for (const char* s : e.said) BOOST_TEST(contains(failures, s), "'" << s << "' not in:\n" << failures);
        }
    }
}

BOOST_AUTO_TEST_CASE(text_report_and_exit_codes) {
    auto r = run_toolhost({"validate-plugin", fixture("results").string(), "--timeout-ms", "1000"});
    BOOST_TEST(r.exit_code == 1, r.err);
    BOOST_TEST(contains(r.out, "FAIL  results"));
    BOOST_TEST(contains(r.out, "PASS  loads"));
    BOOST_TEST(contains(r.out, "      - vfix.measure with the 'long strings' arguments"));
    BOOST_TEST(contains(r.out, "13 checks: "));

    r = run_toolhost({"validate-plugin", "/nonexistent/plugin.so"});
    BOOST_TEST(r.exit_code == 66);
    BOOST_TEST(contains(r.err, "no such file"));
    r = run_toolhost({"validate-plugin", "/nonexistent/plugin.so", "--json"});
    BOOST_TEST(r.exit_code == 66);
    BOOST_TEST(json::parse(r.out).at("error").at("code") == "NOT_FOUND");
    BOOST_TEST(run_toolhost({"validate-plugin"}).exit_code == 64);
    BOOST_TEST(run_toolhost({"validate-plugin-child", "job.json"}).exit_code == 64);  // not by hand
}
