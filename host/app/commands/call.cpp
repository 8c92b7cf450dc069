#include "commands.hpp"

#include <boost/json/parse.hpp>
#include <toolhost/json_input.hpp>
#include <toolhost/json_text.hpp>

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/use_future.hpp>

#include <atomic>
#include <csignal>
#include <iostream>
#include <iterator>

namespace toolhost::cli {

namespace json = boost::json;

namespace {

// How long the command waits, once it has its answer (or was interrupted), for calls still in
// plugin code before it ends anyway.
constexpr std::chrono::milliseconds plugin_grace{500};

std::atomic<int> interrupted{0};
extern "C" void on_interrupt(int signal) { interrupted.store(signal); }

// Runs the call; SIGINT or SIGTERM cancels it, and the command answers CANCELLED at once
// whether or not the plugin stops.
call_result call_interruptibly(toolhost::host& h, const std::string& tool, const std::string& op, json::value args,
                               call_options co) {
    struct sigaction sa {};
    sa.sa_handler = &on_interrupt;
    sigemptyset(&sa.sa_mask);
    struct sigaction old_int {
    }, old_term{};
    ::sigaction(SIGINT, &sa, &old_int);
    ::sigaction(SIGTERM, &sa, &old_term);
    boost::asio::cancellation_signal cancel;
    auto f = h.async_call(tool, op, std::move(args), std::move(co),
                          boost::asio::bind_cancellation_slot(cancel.slot(), boost::asio::use_future));
    std::optional<call_result> r;
    while (!r) {
        if (f.wait_for(std::chrono::milliseconds(20)) == std::future_status::ready) {
            r = f.get();
        } else if (const int signal = interrupted.load(); signal != 0) {
            cancel.emit(boost::asio::cancellation_type::terminal);
            if (f.wait_for(plugin_grace) == std::future_status::ready)
                r = f.get();
            else
                r = make_tool_error(status_code::cancelled, std::string("interrupted by ") +
                                                                (signal == SIGINT ? "SIGINT" : "SIGTERM") + " while " +
                                                                tool + "." + op + " was running");
        }
    }
    ::sigaction(SIGINT, &old_int, nullptr);
    ::sigaction(SIGTERM, &old_term, nullptr);
    return std::move(*r);
}

// Prints a call's result as the command's output; the exit code.
int print_result(command_context& c, json::value result) {
    if (c.opts().json)
        c.out() << toolhost::json_text(json::object{{"ok", true}, {"result", std::move(result)}}) << '\n';
    else
        c.out() << toolhost::json_text(result) << '\n';
    return exit_code::ok;
}

int print_result(command_context& c, const std::string& tool, const std::string& op, call_result& r) {
    if (!r) return c.fail(r.error().code, r.error().message, exit_code_for(r.error().code));
    boost::system::error_code pec;
    json::value result = json::parse(*r, pec);
    if (pec)
        return c.fail(status_code::internal,
                      tool + "." + op + " returned a result that is not valid JSON: " + pec.message(),
                      exit_code::internal);
    return print_result(c, std::move(result));
}

// How long `call --server` waits for the answer when --timeout-ms does not say: the server's own
// deadline (resilience.timeout_ms, 60 s by default) normally ends the call well before.
constexpr std::chrono::minutes remote_call_wait{10};

// call --server URL: the same call through the REST API of a running `toolhost serve`, so that
// a tool keeps its state between calls (POST /v1/tools/{tool}/{operation}, docs/serving.md).
int remote_call(command_context& c, const std::string& tool, const std::string& op, const std::string& args) {
    std::vector<remote_header> headers;
    if (c.opts().request_id) headers.emplace_back("X-Request-Id", *c.opts().request_id);
    if (c.opts().session_id) headers.emplace_back("X-Session-Id", *c.opts().session_id);
    std::chrono::milliseconds wait = remote_call_wait;
    if (const auto ms = c.opts().timeout_ms) {
        headers.emplace_back("X-Timeout-Ms", std::to_string(*ms));
        // the server answers DEADLINE_EXCEEDED at the deadline; a little more for the way back
        wait = std::chrono::milliseconds(*ms) + std::chrono::seconds(5);
    }
    auto r = c.remote("POST", "/v1/tools/" + path_segment(tool) + "/" + path_segment(op), args, wait, headers);
    if (!r) return c.last_failure();
    if (r->status != 200) return c.remote_failure(*r);
    boost::system::error_code ec;
    json::value answer = json::parse(r->body, ec);
    json::value* result = !ec && answer.is_object() ? answer.as_object().if_contains("result") : nullptr;
    if (result == nullptr)
        return c.fail(status_code::internal,
                      "the server's answer to " + tool + "." + op + " is not {\"ok\":true,\"result\":...}: " + r->body,
                      exit_code::internal);
    return print_result(c, std::move(*result));
}

}  // namespace

int cmd_call(command_context& c) {
    if (int rc = c.check_args(2, 3, "'call' needs TOOL OPERATION [ARGS_JSON]"); rc != exit_code::ok) return rc;
    const std::string& tool = c.opts().positional[0];
    const std::string& op = c.opts().positional[1];
    std::string text = c.opts().positional.size() > 2 ? c.opts().positional[2] : "{}";
    if (text == "-") text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
    auto parsed = parse_json_input(text, default_json_max_depth);
    if (!parsed)
        return c.fail(status_code::invalid_argument, "ARGS_JSON is not valid JSON: " + parsed.error().to_string(),
                      exit_code::data);
    if (c.opts().server) return remote_call(c, tool, op, text);
    if (int rc = c.open_host(); rc != exit_code::ok) return rc;

    json::value args = std::move(*parsed);
    if (!c.host().find(tool)) return c.tool_missing(tool);

    c.protect_stdout();  // from here on, plugin code runs in this process
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
    auto r = call_interruptibly(c.host(), tool, op, std::move(args), std::move(co));
    return c.finish(print_result(c, tool, op, r), plugin_grace);
}

}  // namespace toolhost::cli
