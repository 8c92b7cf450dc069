#include "cli.hpp"
#include "command_context.hpp"
#include "commands/commands.hpp"
#include "options.hpp"

#include <algorithm>
#include <iterator>

namespace toolhost::cli {
namespace {

// The command table: each command checks its own arguments and opens the host if it needs one.
constexpr command commands[] = {
    {"help", cmd_help},
    {"version", cmd_version},
    {"list", cmd_list},
    {"info", cmd_info},
    {"call", cmd_call},
    {"status", cmd_status},
    {"metrics", cmd_metrics},
    {"breaker", cmd_breaker},
    {"serve", cmd_serve},
    {"validate", cmd_validate},
    {"inspect", cmd_inspect},
    {"restart", cmd_restart},
    {"new", cmd_new},
    {"validate-plugin", cmd_validate_plugin},
    {"validate-plugin-child", cmd_validate_plugin_child},
};

}  // namespace

int run(const std::vector<std::string>& args, const std::filesystem::path& exe, std::ostream& out, std::ostream& err) {
    auto parsed = parse_args(args);
    if (!parsed) {
        err << "toolhost: " << parsed.error().message << "\n\n" << usage_text;
        return exit_code::usage;
    }
    command_context c(std::move(*parsed), exe, out, err);
    const std::string& name = c.opts().command;
    if (name.empty()) return c.usage("no command given");
    const auto* it =
        std::find_if(std::begin(commands), std::end(commands), [&](const command& k) { return k.name == name; });
    if (it == std::end(commands)) return c.usage("unknown command '" + name + "'");
    return it->run(c);
}

}  // namespace toolhost::cli
