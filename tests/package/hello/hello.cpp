#include <toolhost/plugin.hpp>

#include <string>

class hello_tool {
public:
    static toolhost::sdk::tool_info describe() {
        return {.name = "hello",
                .version = "0.0.1",
                .description = "Greets whoever calls it.",
                .config_schema = {},
                .thread_safe = true,
                .operations = {{.name = "greet",
                                .description = "Returns a greeting.",
                                .input_schema = R"({"type":"object","additionalProperties":false})",
                                .output_schema = {},
                                .flags = TOOLHOST_OPERATION_READ_ONLY}}};
    }
    toolhost::sdk::result invoke(toolhost::sdk::call_context&) {
        return toolhost::sdk::result::ok(R"({"greeting":"hello from out of tree"})");
    }
};

TOOLHOST_PLUGIN("hello", "0.0.1", hello_tool)
