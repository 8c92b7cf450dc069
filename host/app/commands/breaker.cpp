#include "commands.hpp"

#include <boost/json/parse.hpp>
#include <toolhost/json_text.hpp>

namespace toolhost::cli {

namespace json = boost::json;

// `toolhost breaker list|reset|open|disable`: the seed's reset_circuit_breaker and
// reset_all_circuit_breakers, on a running host.
int cmd_breaker(command_context& c) {
    const auto& p = c.opts().positional;
    const std::string action = p.empty() ? "" : p[0];
    const bool needs_tool = action == "open" || action == "disable" || (action == "reset" && !c.opts().all);
    std::string problem;
    if (action != "list" && action != "reset" && action != "open" && action != "disable")
        problem = "'breaker' needs list, reset, open or disable";
    else if (action == "list" && p.size() != 1)
        problem = "'breaker list' takes no arguments";
    else if (action == "reset" && c.opts().all && p.size() != 1)
        problem = "'breaker reset --all' takes no TOOL";
    else if (needs_tool && (p.size() < 2 || p.size() > 3))
        problem = "'breaker " + action + "' needs TOOL [OPERATION]";
    if (!problem.empty()) return c.usage(problem);
    if (action == "list") {
        auto r = c.remote("GET", "/v1/circuit-breakers");
        if (!r) return c.last_failure();
        if (r->status != 200) return c.remote_failure(*r);
        if (c.opts().json) {
            c.out() << r->body << (r->body.ends_with('\n') ? "" : "\n");
            return exit_code::ok;
        }
        auto v = json::parse(r->body);
        for (const auto& b : v.at("circuit_breakers").as_array()) {
            const auto& o = b.as_object();
            std::string scope(o.at("tool").as_string());
            if (o.at("operation").is_string()) {
                scope += '.';
                scope += std::string_view(o.at("operation").as_string());
            }
            c.out() << scope << ' ' << std::string_view(o.at("state").as_string())
                    << "  consecutive_failures=" << o.at("consecutive_failures").to_number<uint64_t>()
                    << " failure_rate=" << o.at("failure_rate").to_number<double>() << '\n';
        }
        return exit_code::ok;
    }
    std::string path;
    std::string body;
    if (action == "reset" && c.opts().all) {
        path = "/v1/circuit-breakers/reset";
    } else {
        path = "/v1/tools/" + p[1] + "/circuit-breaker/" + action;
        if (p.size() == 3) body = toolhost::json_text(json::object{{"operation", p[2]}});
    }
    auto r = c.remote("POST", path, body);
    if (!r) return c.last_failure();
    if (r->status != 200) return c.remote_failure(*r);
    if (c.opts().json)
        c.out() << r->body << (r->body.ends_with('\n') ? "" : "\n");
    else
        c.out() << "ok\n";
    return exit_code::ok;
}

// `toolhost restart TOOL`: a tool of a running host stopped and started again (fresh instance,
// fresh worker process), e.g. once its worker crashed too often and left it failed.
int cmd_restart(command_context& c) {
    if (int rc = c.check_args(1, 1, "'restart' needs TOOL"); rc != exit_code::ok) return rc;
    const auto& tool = c.opts().positional[0];
    auto r = c.remote("POST", "/v1/tools/" + tool + "/lifecycle/restart", "");
    if (!r) return c.last_failure();
    if (r->status != 200) return c.remote_failure(*r);
    if (c.opts().json)
        c.out() << r->body << (r->body.ends_with('\n') ? "" : "\n");
    else
        c.out() << "restarted " << tool << '\n';
    return exit_code::ok;
}

}  // namespace toolhost::cli
