#include "catalog.hpp"
#include "client_peer.hpp"
#include "input_round.hpp"
#include "protocol.hpp"
#include "session_state.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/json/parse.hpp>
#include <toolhost/json_text.hpp>

// tools/call: arguments and options from the request, then the call, inline or through the
// host's pipeline, and its result as MCP content.
namespace toolhost::mcp {

namespace json = boost::json;

namespace {

json::object tool_error_result(const tool_error& e) {
    std::string text(status_name(e.code));
    text += ": ";
    text += e.message;
    json::object err{{"code", status_name(e.code)}, {"message", e.message}};
    if (e.retry_after) err["retryAfterMs"] = static_cast<int64_t>(e.retry_after->count());
    return {{"content", json::array{json::object{{"type", "text"}, {"text", std::move(text)}}}},
            {"isError", true},
            {"_meta", {{"toolhost/error", std::move(err)}}}};
}

// A tool's result as a tools/call result: content blocks, plus structuredContent from 2025-06-18.
json::object call_result_json(const server::catalog::entry& e, const call_result& r, bool structured) {
    if (!r) return tool_error_result(r.error());
    boost::system::error_code ec;
    json::value v = json::parse(*r, ec);
    if (ec)
        return tool_error_result(
            make_tool_error(status_code::internal,
                            e.tool + "." + e.operation + " returned a result that is not valid JSON: " + ec.message()));
    if (e.content_result) {
        json::object* o = v.if_object();
        json::value* content = o ? o->if_contains("content") : nullptr;
        if (content == nullptr || !content->is_array())
            return tool_error_result(
                make_tool_error(status_code::internal,
                                e.tool + "." + e.operation +
                                    " is declared to return content blocks but its result has no \"content\" array"));
        json::object out{{"content", std::move(*content)}};
        if (structured) {
            if (json::value* sc = o->if_contains("structuredContent")) out["structuredContent"] = std::move(*sc);
        }
        if (json::value* err = o->if_contains("isError"); err && err->is_bool()) out["isError"] = err->get_bool();
        return out;
    }
    json::object out{{"content", json::array{json::object{{"type", "text"}, {"text", *r}}}}};
    if (structured && v.is_object()) out["structuredContent"] = std::move(v);
    return out;
}

// The tools/call response. A result that is JSON text goes into it as it is (escaped once for the
// text block, spliced in as structuredContent when it is an object) instead of being parsed and
// serialized again: the common case, and the one on every call's path.
std::string call_response(const json::value& id, const server::catalog::entry& e, const call_result& r,
                          const request_context& ctx, const server_options& o, std::string_view complete_members) {
    const bool structured = structured_output(ctx.version);
    if (r && !e.content_result && is_valid_json(*r)) {
        const std::string_view text = *r;
        const auto first = text.find_first_not_of(" \t\r\n");
        const bool object = first != std::string_view::npos && text[first] == '{';
        std::string out;
        out.reserve(96 + 2 * text.size());
        out += R"({"jsonrpc":"2.0","id":)";
        out += toolhost::json_text(id);
        out += R"(,"result":{"content":[{"type":"text","text":)";
        out += toolhost::json_text(std::string_view(text.data(), text.size()));
        out += "}]";
        if (object && structured) {
            out += R"(,"structuredContent":)";
            out += text;
        }
        if (ctx.stateless) out += complete_members;
        out += "}}";
        return out;
    }
    json::object result = call_result_json(e, r, structured);
    if (ctx.stateless) complete_result(result, server_info(o));
    return response(id, std::move(result));
}

}  // namespace

// The call's deadline, trace context and progress notifications, from the request.
call_options options_for(const json::object& params, const std::string& session_id, const server_options& o,
                         const std::shared_ptr<exchange>& out) {
    call_options options;
    options.session_id = session_id;
    if (o.call_timeout.count() > 0) options.deadline = std::chrono::steady_clock::now() + o.call_timeout;
    if (const auto* meta = params.if_contains("_meta"); meta && meta->is_object()) {
        const auto& m = meta->get_object();
        if (const auto* tp = m.if_contains("traceparent"); tp && tp->is_string())
            options.traceparent = tp->get_string();
        if (const auto* token = m.if_contains("progressToken"); token && valid_id(*token)) {
            options.on_progress = [out, token = *token](double done, double total, std::string_view message) {
                json::object p{{"progressToken", token}, {"progress", number(done)}};
                if (total > 0) p["total"] = number(total);
                if (!message.empty()) p["message"] = message;
                out->send(notification("notifications/progress", std::move(p)));
            };
        }
    }
    return options;
}

namespace {

// A stateless-era call's answers so far: the retry's inputResponses over what its requestState
// carries from earlier rounds. The error response when either is malformed.
std::optional<std::string> read_answers(const json::value& id, const json::object& params, std::string_view tool,
                                        std::string_view arguments, const state_key& key, json::object& answers) {
    if (const json::value* state = params.if_contains("requestState"); state && !state->is_null()) {
        std::string why = "requestState must be a string";
        auto earlier = state->is_string() ? decode_request_state(key, state->get_string(), tool, arguments,
                                                                 std::chrono::system_clock::now(), why)
                                          : std::nullopt;
        if (!earlier) {
            const json::value data = json::object{{"reason", "invalid_request_state"}};
            return error_response(id, invalid_params, "invalid params: requestState: " + why, &data);
        }
        answers = std::move(*earlier);
    }
    if (const json::value* responses = params.if_contains("inputResponses"); responses && !responses->is_null()) {
        if (!responses->is_object())
            return error_response(id, invalid_params, "invalid params: \"inputResponses\" must be an object");
        for (const auto& r : responses->get_object()) answers[r.key()] = r.value();
    }
    return std::nullopt;
}

// The answer to a stateless-era call whose tool asked the client: input_required with what it
// asked (and the answers so far in requestState), or -32021 when the client cannot answer;
// nothing when the tool asked nothing unanswered.
std::optional<std::string> input_required_response(const json::value& id, input_round& round, std::string_view tool,
                                                   std::string_view arguments, const state_key& key,
                                                   const server_options& o) {
    std::lock_guard lock(round.m);
    if (round.missing_capability) {
        const json::value data = json::object{{"requiredCapabilities", {{*round.missing_capability, json::object{}}}}};
        return error_response(id, missing_required_client_capability,
                              "the tool needs the client's '" + *round.missing_capability +
                                  "' capability, which the request's clientCapabilities do not declare",
                              &data);
    }
    if (round.requests.empty()) return std::nullopt;
    json::object result{
        {"inputRequests", round.requests},
        {"requestState", encode_request_state(key, round.answers, tool, arguments, std::chrono::system_clock::now())}};
    complete_result(result, server_info(o), "input_required");
    return response(id, std::move(result));
}

}  // namespace

std::shared_ptr<boost::asio::cancellation_signal> session::begin_call(const std::string& key, const json::value& id,
                                                                      exchange& out) {
    auto signal = std::make_shared<boost::asio::cancellation_signal>();
    bool taken = false;
    {
        std::lock_guard lock(st_->m);
        taken = !st_->in_flight.try_emplace(key, signal).second;
    }
    if (!taken) return signal;
    // (answered outside the lock: an exchange may call back into the session)
    out.finish(error_response(id, invalid_request, "invalid request: request id " + key + " is already in use"));
    return nullptr;
}

void session::end_call(const std::string& key) {
    std::lock_guard lock(st_->m);
    st_->in_flight.erase(key);
}

void session::call_tool(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                        const request_context& ctx) {
    const json::value* name = params.if_contains("name");
    if (name == nullptr || !name->is_string()) {
        out->finish(error_response(id, invalid_params, "invalid params: tools/call needs \"name\" (a string)"));
        return;
    }
    auto cat = server_.current();
    const server::catalog::entry* e = cat->find(name->get_string());
    if (e == nullptr) {
        out->finish(error_response(id, invalid_params, "unknown tool: " + std::string(name->get_string())));
        return;
    }
    json::value arguments = json::object{};
    if (json::value* a = params.if_contains("arguments"); a && !a->is_null()) {
        if (!a->is_object()) {
            out->finish(error_response(id, invalid_params, "invalid params: \"arguments\" must be an object"));
            return;
        }
        arguments = std::move(*a);
    }
    call_options options = options_for(params, id_, server_.options(), out);
    const auto& o = server_.options();
    // A stateless-era call asks the client through an input round (input_round.hpp).
    std::shared_ptr<input_round> round;
    std::string arguments_text;
    if (ctx.stateless) {
        round = std::make_shared<input_round>();
        // The arguments as text bind a requestState to them: made now when the request brings one
        // or the call gives its arguments away (async); an inline call makes it only if its tool
        // asked the client (below), so that the common call does not serialize its arguments.
        const json::value* state = params.if_contains("requestState");
        if (!e->run_inline || (state != nullptr && !state->is_null())) arguments_text = toolhost::json_text(arguments);
        if (auto refused = read_answers(id, params, e->name, arguments_text, server_.state_key_, round->answers))
            return out->finish(std::move(*refused));
    }
    if (e->run_inline) {
        // Microseconds on this thread: cheaper than two thread hand-offs. Nothing can cancel it
        // while it runs, so it is not registered as in flight. The call ends before this
        // function returns, so its peer lives on the stack (not owned by the shared_ptr).
        client_peer peer(weak_from_this(), st_.get(), out, o.client_request_timeout, true, ctx, round);
        options.peer = std::shared_ptr<call_peer>(std::shared_ptr<call_peer>(), &peer);
        call_result r = server_.host().call_inline(e->ref, arguments, options);
        options.peer.reset();
        if (round && round->asked()) {
            if (arguments_text.empty()) arguments_text = toolhost::json_text(arguments);
            if (auto asked = input_required_response(id, *round, e->name, arguments_text, server_.state_key_, o))
                return out->finish(std::move(*asked));
        }
        out->finish(call_response(id, *e, r, ctx, o, server_.complete_members()));
        return;
    }
    options.peer =
        std::make_shared<client_peer>(weak_from_this(), st_.get(), out, o.client_request_timeout, false, ctx, round);

    const std::string key = toolhost::json_text(id);
    auto signal = begin_call(key, id, *out);
    if (!signal) return;
    auto self = shared_from_this();
    server_.host().async_call(e->tool, e->operation, std::move(arguments), std::move(options),
                              boost::asio::bind_cancellation_slot(
                                  signal->slot(), [self, cat, e, id, key, out, ctx, round,
                                                   arguments_text = std::move(arguments_text)](call_result r) {
                                      self->end_call(key);
                                      // A request the client cancelled gets no response (the client has stopped waiting).
                                      if (!r && r.error().code == status_code::cancelled) {
                                          out->finish({});
                                          return;
                                      }
                                      const auto& o = self->server_.options();
                                      if (round)
                                          if (auto asked = input_required_response(id, *round, e->name, arguments_text,
                                                                                   self->server_.state_key_, o))
                                              return out->finish(std::move(*asked));
                                      out->finish(call_response(id, *e, r, ctx, o, self->server_.complete_members()));
                                  }));
}

}  // namespace toolhost::mcp
