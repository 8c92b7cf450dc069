#include "client_peer.hpp"

#include "protocol.hpp"

#include <boost/json/parse.hpp>
#include <toolhost/json_input.hpp>
#include <toolhost/json_text.hpp>

namespace toolhost::mcp {

namespace json = boost::json;

namespace {

// The params a tool gives for a request to the client: a JSON object, or none ("").
std::optional<tool_error> parse_params(std::string_view method, std::string_view params, json::value& out) {
    if (params.empty()) return std::nullopt;
    boost::system::error_code ec;
    out = json::parse(params, ec);
    if (ec || !out.is_object())
        return make_tool_error(status_code::invalid_argument,
                               "the params of " + std::string(method) + " must be a JSON object");
    return std::nullopt;
}

// What the client answered, as the tool gets it.
call_result client_answer(std::string_view method, const json::value& result) {
    // JSON has no infinity: the tool would read null (or worse) where the client sent 1e309.
    if (auto where = find_out_of_range_number(result))
        return make_tool_error(status_code::invalid_argument, "the MCP client answered " + std::string(method) +
                                                                  " with " +
                                                                  (where->empty() ? std::string("/") : *where) + ": " +
                                                                  std::string(out_of_range_number_message));
    return toolhost::json_text(result);
}

}  // namespace

void client_peer::log(int32_t level, std::string_view logger, std::string_view message) noexcept {
    try {
        auto keep = session_.lock();
        if (!keep) return;
        out_->send(notification("notifications/message",
                                {{"level", mcp_level_name(level)}, {"logger", logger}, {"data", message}}));
    } catch (...) {
    }
}

call_result client_peer::request(std::string_view method, std::string_view params,
                                 const call_control& control) noexcept {
    try {
        return request_impl(method, params, control);
    } catch (const std::exception& e) {
        return make_tool_error(status_code::internal, std::string("asking the client failed: ") + e.what());
    }
}

call_result client_peer::request_impl(std::string_view method, std::string_view params, const call_control& control) {
    std::string_view capability = method.starts_with("sampling/")      ? "sampling"
                                  : method.starts_with("elicitation/") ? "elicitation"
                                  : method.starts_with("roots/")       ? "roots"
                                                                       : "";
    // 2026-07-28 has no requests from server to client: the call ends with an input_required
    // result, and the client's retry brings the answer (no thread waits, so inline calls may ask).
    if (stateless_) return ask_in_round(method, params, capability);
    // The answer would arrive on the very thread this call blocks.
    if (inline_call_)
        return make_tool_error(status_code::failed_precondition,
                               "an operation flagged NONBLOCKING cannot wait for the client's answer to " +
                                   std::string(method) + "; drop the flag");
    auto keep = session_.lock();
    if (!keep) return make_tool_error(status_code::unavailable, "the MCP session has ended");
    json::value p;
    if (auto bad = parse_params(method, params, p)) return std::move(*bad);
    auto pr = std::make_shared<pending_request>();
    int64_t id = 0;
    {
        std::lock_guard lock(st_->m);
        if (st_->closed) return make_tool_error(status_code::unavailable, "the MCP session has ended");
        if (!capability.empty() && !st_->client_capabilities.contains(capability))
            return make_tool_error(status_code::failed_precondition,
                                   "the MCP client did not declare the '" + std::string(capability) +
                                       "' capability, so it cannot answer " + std::string(method));
        id = st_->next_request_id++;
        st_->pending.emplace(id, pr);
    }
    auto forget = [&] {
        std::lock_guard lock(st_->m);
        st_->pending.erase(id);
    };
    json::object req{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}};
    if (!p.is_null()) req["params"] = std::move(p);
    if (!out_->send(toolhost::json_text(req))) {
        forget();
        return make_tool_error(status_code::unavailable,
                               "the MCP client's stream is gone; cannot send " + std::string(method));
    }
    const auto give_up = std::chrono::steady_clock::now() + timeout_;
    std::unique_lock lock(pr->m);
    for (;;) {
        if (pr->cv.wait_for(lock, std::chrono::milliseconds(20), [&] { return pr->done; })) break;
        const bool cancelled = control.cancel_requested();
        const bool late = control.cancelled() || std::chrono::steady_clock::now() >= give_up;
        if (cancelled || late) {
            lock.unlock();
            forget();
            out_->send(
                notification("notifications/cancelled",
                             {{"requestId", id}, {"reason", cancelled ? "the tool call was cancelled" : "timed out"}}));
            if (cancelled)
                return make_tool_error(status_code::cancelled, std::string(method) + " cancelled with its call");
            return make_tool_error(status_code::deadline_exceeded,
                                   "the MCP client did not answer " + std::string(method) + " in time");
        }
    }
    const json::object& answer = pr->answer.as_object();
    if (const auto* r = answer.if_contains("result")) return client_answer(method, *r);
    std::string text = "the MCP client answered " + std::string(method) + " with an error";
    if (const auto* e = answer.if_contains("error"); e && e->is_object()) {
        if (const auto* c = e->get_object().if_contains("code")) text += " " + toolhost::json_text(*c);
        if (const auto* m = e->get_object().if_contains("message"); m && m->is_string())
            text += ": " + std::string(m->get_string());
    }
    return make_tool_error(status_code::unavailable, std::move(text));
}

call_result client_peer::ask_in_round(std::string_view method, std::string_view params, std::string_view capability) {
    if (method != "sampling/createMessage" && method != "elicitation/create" && method != "roots/list")
        return make_tool_error(status_code::invalid_argument,
                               "a 2026-07-28 client can only be asked for elicitation/create, sampling/createMessage "
                               "or roots/list, not " +
                                   std::string(method));
    json::value p = json::object{};
    if (auto bad = parse_params(method, params, p)) return std::move(*bad);
    const std::string key = ask_key(method, params);
    std::lock_guard lock(round_->m);
    if (const json::value* answer = round_->answers.if_contains(key)) return client_answer(method, *answer);
    if (!capabilities_.contains(capability)) {
        round_->missing_capability = std::string(capability);
        return make_tool_error(status_code::failed_precondition,
                               "the MCP client did not declare the '" + std::string(capability) +
                                   "' capability, so it cannot answer " + std::string(method));
    }
    round_->requests[key] = json::object{{"method", method}, {"params", std::move(p)}};
    return make_tool_error(status_code::failed_precondition,
                           "waiting for the MCP client's answer to " + std::string(method) +
                               ": the call ends with input_required, and the client's retry brings the answer");
}

}  // namespace toolhost::mcp
