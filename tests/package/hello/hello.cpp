// The C++ plugin of docs/writing-a-plugin.md, section 2, as the page shows it: built out of tree
// against the installed package by the package test, which calls it with a name.
#include <toolhost/plugin.hpp>

#include <boost/json.hpp>

#include <string>

namespace sdk = toolhost::sdk;
namespace json = boost::json;

class hello_tool {
public:
    // What the tool offers, and which member runs each operation. Schemas are JSON Schema
    // draft-07; the host validates arguments against input_schema before an operation sees them,
    // and results against output_schema before a caller sees them.
    static const sdk::tool_table<hello_tool>& table() {
        static const sdk::tool_table<hello_tool> t{
            .name = "hello",
            .version = "1.0.0",
            .description = "Greets people.",
            .config_schema = R"({"type":"object","properties":{"greeting":{"type":"string"}},
                                 "additionalProperties":false})",
            .thread_safe = true,  // operations may run on several threads at once
            .operations = {{
                .name = "greet",
                .description = "Returns a greeting for `name`.",
                .input_schema = R"({"type":"object","properties":{"name":{"type":"string","minLength":1}},
                                    "required":["name"],"additionalProperties":false})",
                .output_schema = R"({"type":"object","properties":{"greeting":{"type":"string"}},
                                     "required":["greeting"]})",
                .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY,
                .run = &hello_tool::greet,
            }},
        };
        return t;
    }

    // Optional. The configuration object arrives validated against config_schema.
    void initialize(sdk::init_context& init) {
        const json::object config = json::parse(init.config()).as_object();
        if (const json::value* g = config.if_contains("greeting")) greeting_ = g->as_string();
    }

    // Optional: release what initialize() acquired.
    void cleanup() {}

private:
    // call.arguments() is the arguments object as compact JSON, already validated: "name" is
    // there and is a non-empty string. Throwing is fine: the helper turns toolhost::sdk::error
    // into its status and anything else into INTERNAL.
    sdk::result greet(sdk::call_context& call) {
        const json::object args = json::parse(call.arguments()).as_object();
        const json::string& name = args.at("name").as_string();
        json::object result{{"greeting", greeting_ + ", " + std::string(name) + "!"}};
        return sdk::result::ok(json::serialize(result));
    }

    std::string greeting_ = "Hello";
};

TOOLHOST_PLUGIN("hello", "1.0.0", hello_tool)  // several tool classes may be listed
