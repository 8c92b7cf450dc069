// The "hello world" of toolhost plugins (docs/writing-a-plugin.md walks through it).
// One tool, "echo", with one operation that returns its arguments unchanged: the smallest useful
// plugin, and the no-op tool the benchmarks measure the host's own cost with.
#include <toolhost/plugin.hpp>

namespace {

namespace sdk = toolhost::sdk;

class echo_tool {
public:
    static const sdk::tool_table<echo_tool>& table() {
        static const sdk::tool_table<echo_tool> t{
            .name = "echo",
            .version = "1.0.0",
            .description = "Returns its arguments unchanged. Useful to check that the host works.",
            .config_schema = {},
            .thread_safe = true,
            .operations = {{
                .name = "echo",
                .description = "Returns the arguments object exactly as it was given.",
                .input_schema = R"({"type":"object"})",
                .output_schema = R"({"type":"object"})",
                .flags = TOOLHOST_OPERATION_IDEMPOTENT | TOOLHOST_OPERATION_READ_ONLY | TOOLHOST_OPERATION_NONBLOCKING,
                .run = &echo_tool::echo,
            }},
        };
        return t;
    }

    sdk::result echo(sdk::call_context& call) { return sdk::result::ok(std::string(call.arguments())); }
};

}  // namespace

TOOLHOST_PLUGIN("echo", "1.0.0", echo_tool)
