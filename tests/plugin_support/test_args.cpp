// toolhost_plugin_args: reading JSON arguments with errors that name the field, and the
// json_operation handler shape of the bundled tools' operation tables.
#include <boost/test/unit_test.hpp>

#include <toolhost_plugins/args.hpp>
#include <toolhost_plugins/json_operation.hpp>

#include "test_support.hpp"

namespace plugins = toolhost::plugins;
namespace sdk = toolhost::sdk;
namespace json = boost::json;
using toolhost::test::contains;

namespace {

// The message and status of the sdk::error `f` throws.
template <class F>
sdk::error thrown_by(F&& f) {
    try {
        f();
    } catch (const sdk::error& e) {
        return e;
    }
    BOOST_FAIL("nothing was thrown");
    return sdk::error(sdk::status::ok, "");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(args)

BOOST_AUTO_TEST_CASE(reads_fields_with_defaults_and_ranges) {
    const plugins::args a(R"({"s":"x","i":7,"d":0.5,"b":true,"l":["p","q"],"o":{"k":1}})");
    BOOST_TEST(a.required_string("s") == "x");
    BOOST_TEST(a.string_or("missing", "fallback") == "fallback");
    BOOST_TEST(a.int_or("i", 0, 1, 10) == 7);
    BOOST_TEST(a.number_or("d", 1) == 0.5);
    BOOST_TEST(a.bool_or("b", false));
    BOOST_TEST(a.string_list("l").size() == 2u);
    BOOST_TEST(a.optional_object("o").has_value());
    BOOST_TEST(!a.optional_string("missing").has_value());
}

BOOST_AUTO_TEST_CASE(errors_name_the_field_and_are_invalid_argument) {
    const plugins::args a(R"({"i":70,"s":3})");
    auto e = thrown_by([&] { a.int_or("i", 0, 1, 10); });
    BOOST_TEST(static_cast<int>(e.code()) == static_cast<int>(sdk::status::invalid_argument));
    BOOST_TEST(contains(e.what(), "i:"), e.what());
    e = thrown_by([&] { a.required_string("s"); });
    BOOST_TEST(contains(e.what(), "s:"), e.what());
    e = thrown_by([&] { a.required_string("absent"); });
    BOOST_TEST(contains(e.what(), "absent"), e.what());
    e = thrown_by([] { plugins::args("[1]", "config"); });
    BOOST_TEST(contains(e.what(), "config"), e.what());
}

BOOST_AUTO_TEST_CASE(path_lists_fall_back_only_when_absent) {
    const plugins::args a(R"({"dirs":["/a","b/c"],"none":[],"null":null,"bad":["x",1]})");
    const std::vector<std::filesystem::path> fallback{"/default"};
    BOOST_TEST((a.path_list("dirs", fallback) == std::vector<std::filesystem::path>{"/a", "b/c"}));
    BOOST_TEST(a.path_list("none", fallback).empty());  // [] means none, not the default
    BOOST_TEST((a.path_list("null", fallback) == fallback));
    BOOST_TEST((a.path_list("absent", fallback) == fallback));
    const auto e = thrown_by([&] { a.path_list("bad", fallback); });
    BOOST_TEST(contains(e.what(), "bad/1"), e.what());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(json_operation)

struct adder {
    json::object add(const plugins::args& a, const sdk::call_context&) {
        return {{"sum", a.int_or("a", 0) + a.int_or("b", 0)}};
    }
    json::object broken(const plugins::args&, const sdk::call_context&) {
        throw sdk::error(sdk::status::unavailable, "down");
    }
    static const plugins::json_table<adder>& table() {
        static const plugins::json_table<adder> t{
            .name = "adder",
            .version = "1.0.0",
            .description = "adds",
            .config_schema = {},
            .thread_safe = true,
            .operations = {{.name = "add",
                            .description = "a + b",
                            .input_schema = R"({"type":"object"})",
                            .output_schema = {},
                            .flags = 0,
                            .run = {&adder::add}},
                           {.name = "broken",
                            .description = "fails",
                            .input_schema = R"({"type":"object"})",
                            .output_schema = {},
                            .flags = 0,
                            .run = {&adder::broken}}},
        };
        return t;
    }
};

// A call context over a hand-made toolhost_call_t: only what the dispatch reads.
struct fake_call {
    std::string operation;
    std::string arguments;
    toolhost_call_t abi{};
    explicit fake_call(std::string op, std::string args) : operation(std::move(op)), arguments(std::move(args)) {
        abi.struct_size = sizeof(abi);
        abi.operation = {operation.data(), operation.size()};
        abi.arguments = {arguments.data(), arguments.size()};
    }
};

BOOST_AUTO_TEST_CASE(the_table_describes_and_dispatches) {
    const auto info = adder::table().info();
    BOOST_TEST(info.name == "adder");
    BOOST_TEST(info.operations.size() == 2u);
    BOOST_TEST(info.operations[0].name == "add");
    BOOST_TEST(info.operations[0].input_schema == R"({"type":"object"})");

    adder tool;
    fake_call add("add", R"({"a":2,"b":3})");
    sdk::call_context ctx(&add.abi);
    const sdk::result r = adder::table().dispatch(tool, ctx);
    BOOST_TEST(static_cast<int>(r.code()) == static_cast<int>(sdk::status::ok));
    BOOST_TEST(r.text() == R"({"sum":5})");

    fake_call unknown("subtract", "{}");
    sdk::call_context other(&unknown.abi);
    const sdk::result u = adder::table().dispatch(tool, other);
    BOOST_TEST(static_cast<int>(u.code()) == static_cast<int>(sdk::status::unimplemented));
    BOOST_TEST(u.text() == "adder has no operation 'subtract'");

    fake_call broken("broken", "{}");
    sdk::call_context failing(&broken.abi);
    const auto e = thrown_by([&] { adder::table().dispatch(tool, failing); });
    BOOST_TEST(static_cast<int>(e.code()) == static_cast<int>(sdk::status::unavailable));
}

BOOST_AUTO_TEST_SUITE_END()
