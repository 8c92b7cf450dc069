#include "commands.hpp"

#include <boost/json/parse.hpp>
#include <toolhost/json_text.hpp>

#include <iostream>
#include <iterator>

namespace toolhost::cli {

namespace json = boost::json;

int cmd_call(command_context& c) {
    if (int rc = c.check_args(2, 3, "'call' needs TOOL OPERATION [ARGS_JSON]"); rc != exit_code::ok) return rc;
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    const std::string& tool = c.opts().positional[0];
    const std::string& op = c.opts().positional[1];
    std::string text = c.opts().positional.size() > 2 ? c.opts().positional[2] : "{}";
    if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    boost::system::error_code ec;
    json::value args = json::parse(text, ec);
    if (ec)
        return c.fail(status_code::invalid_argument, "ARGS_JSON is not valid JSON: " + ec.message(), exit_code::data);
    if (!c.host().find(tool)) return c.tool_missing(tool);

    start_options so;
    so.concurrent = false;
    so.only = std::vector<std::string>{tool};
    auto started = c.host().start(so);
    if (!started.ok()) {
        const auto& e = started.failed.front().second;
        // A configuration the tool's schema rejects is the operator's to fix: EX_CONFIG.
        bool config_problem = e.code == status_code::invalid_argument;
        return c.fail(status_code::unavailable, "tool '" + tool + "' could not start: " + e.message,
                      config_problem ? exit_code::config : exit_code::unavailable);
    }
    call_options co;
    if (c.opts().request_id) co.request_id = *c.opts().request_id;
    if (c.opts().session_id) co.session_id = *c.opts().session_id;
    if (c.opts().timeout_ms)
        co.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(*c.opts().timeout_ms);
    auto r = c.host().call(tool, op, std::move(args), std::move(co));
    c.host().shutdown();
    if (!r) return c.fail(r.error().code, r.error().message, exit_code_for(r.error().code));
    boost::system::error_code pec;
    json::value result = json::parse(*r, pec);
    if (pec)
        return c.fail(status_code::internal,
                      tool + "." + op + " returned a result that is not valid JSON: " + pec.message(),
                      exit_code::internal);
    if (c.opts().json)
        c.out() << toolhost::json_text(json::object{{"ok", true}, {"result", std::move(result)}}) << '\n';
    else
        c.out() << toolhost::json_text(result) << '\n';
    return exit_code::ok;
}

}  // namespace toolhost::cli
