// REST on /v1/tools, the circuit breakers on /v1/circuit-breakers and /v1/tools/{tool}/circuit-breaker,
// readiness on /readyz.
#include "connection.hpp"
#include <toolhost/json_text.hpp>

#include <toolhost/serve/failure_json.hpp>

namespace toolhost::serve::detail {

void connection::readyz() {
    const bool ready = srv_.ready_.load();
    json::array tools;
    for (const auto& s : srv_.host_.status()) {
        json::object o{{"name", s.name}, {"state", tool_state_name(s.state)}, {"enabled", s.enabled}};
        if (!s.error.empty()) o["error"] = s.error;
        tools.push_back(std::move(o));
    }
    reply(ready ? bhttp::status::ok : bhttp::status::service_unavailable,
          toolhost::json_text(json::object{{"status", ready ? "ready" : "not_ready"}, {"tools", std::move(tools)}}));
}

json::object tool_json(const toolhost::host& h, const tool_status& s) {
    json::object o;
    if (auto f = h.find(s.name))
        o = to_json(f->descriptor());
    else
        o["name"] = s.name;
    o["state"] = tool_state_name(s.state);
    o["enabled"] = s.enabled;
    if (!s.error.empty()) o["error"] = s.error;
    return o;
}

void connection::list_tools() {
    json::array tools;
    for (const auto& s : srv_.host_.status()) tools.push_back(tool_json(srv_.host_, s));
    reply(bhttp::status::ok, toolhost::json_text(json::object{{"tools", std::move(tools)}}));
}

// The seed's reset_circuit_breaker / reset_all_circuit_breakers, for `toolhost breaker`:
//   GET  /v1/circuit-breakers                               every breaker
//   POST /v1/circuit-breakers/reset                         close them all
//   POST /v1/tools/{tool}/circuit-breaker/{reset|open|disable}  one tool's ({"operation": ...}: one)
void connection::breakers(bhttp::verb method) {
    const std::string_view path = std::string_view(req().target()).substr(0, req().target().find('?'));
    auto& h = srv_.host_;
    if (path == "/v1/circuit-breakers") {
        if (method != bhttp::verb::get)
            return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET");
        const auto now = std::chrono::steady_clock::now();
        json::array all;
        for (const auto& b : h.circuit_breakers()) {
            json::object o{{"tool", b.tool},
                           {"operation", b.operation.empty() ? json::value(nullptr) : json::value(b.operation)},
                           {"state", breaker_state_name(b.state.state)},
                           {"calls", b.state.calls},
                           {"failures", b.state.failures},
                           {"consecutive_failures", b.state.consecutive_failures},
                           {"failure_rate", b.state.failure_rate},
                           {"transitions", b.state.transitions}};
            if (b.state.state == breaker_state::open || b.state.state == breaker_state::half_open)
                o["next_probe_in_ms"] = std::max<int64_t>(
                    0, std::chrono::duration_cast<std::chrono::milliseconds>(b.state.next_probe_at - now).count());
            all.push_back(std::move(o));
        }
        return reply(bhttp::status::ok, toolhost::json_text(json::object{{"circuit_breakers", std::move(all)}}));
    }
    if (method != bhttp::verb::post) return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "POST");
    if (path == "/v1/circuit-breakers/reset") {
        h.reset_all_circuit_breakers();
        logging::write(logging::level::info, "serve", "every circuit breaker reset over HTTP");
        return reply(bhttp::status::ok, R"({"ok":true})");
    }
    auto target = boost::urls::parse_origin_form(req().target());
    if (!target) return http_error(bhttp::status::bad_request, "Bad Request: malformed request target");
    std::vector<std::string> segments;
    for (auto seg : target->segments()) segments.push_back(seg);
    // v1, tools, {tool}, circuit-breaker, {action}
    if (segments.size() != 5) return http_error(bhttp::status::not_found, "Not Found: " + std::string(req().target()));
    const std::string& tool = segments[2];
    const std::string& action = segments[4];
    std::string operation;
    if (!req().body().empty()) {
        json::error_code ec;
        auto v = json::parse(req().body(), ec);
        const json::value* op = !ec && v.is_object() ? v.as_object().if_contains("operation") : nullptr;
        if (ec || !v.is_object() || (op != nullptr && !op->is_string()))
            return http_error(bhttp::status::bad_request, "the body must be {} or {\"operation\": \"<name>\"}");
        if (op != nullptr) operation = op->get_string();
    }
    bool found = false;
    if (action == "reset")
        found = h.reset_circuit_breaker(tool, operation);
    else if (action == "open")
        found = h.force_open_circuit_breaker(tool, operation);
    else if (action == "disable")
        found = h.disable_circuit_breaker(tool, operation);
    else
        return http_error(bhttp::status::not_found, "no breaker action '" + action + "' (reset, open or disable)");
    if (!found)
        return http_error(bhttp::status::not_found, operation.empty()
                                                        ? "no tool named '" + tool + "'"
                                                        : "no operation '" + operation + "' in tool '" + tool + "'");
    logging::write(logging::level::info, "serve", "circuit breaker changed over HTTP",
                   {{"tool", tool}, {"operation", operation}, {"action", action}});
    return reply(bhttp::status::ok, R"({"ok":true})");
}

void connection::rest_tool(bhttp::verb method) {
    auto target = boost::urls::parse_origin_form(req().target());
    if (!target) return http_error(bhttp::status::bad_request, "Bad Request: malformed request target");
    std::vector<std::string> segments;
    for (auto seg : target->segments()) segments.push_back(seg);
    // segments: v1, tools, {tool}[, {operation}]
    if (route_ == r_tool && segments.size() == 3) {
        if (method != bhttp::verb::get)
            return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET");
        auto s = srv_.host_.status(segments[2]);
        if (!s) return http_error(bhttp::status::not_found, "no tool named '" + segments[2] + "'");
        return reply(bhttp::status::ok, toolhost::json_text(tool_json(srv_.host_, *s)));
    }
    if (route_ == r_call && segments.size() == 4) {
        if (method != bhttp::verb::post)
            return http_error(bhttp::status::method_not_allowed, "Method Not Allowed", "POST");
        return rest_call(std::move(segments[2]), std::move(segments[3]));
    }
    http_error(bhttp::status::not_found, "Not Found: " + std::string(req().target()));
}

void connection::rest_call(std::string tool, std::string operation) {
    if (const auto& rid = fields_.request_id) {
        const std::string_view v = trim(*rid);
        if (v.size() > 256 || !std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7f; }))
            return http_error(bhttp::status::bad_request, "X-Request-Id must be 1-256 visible ASCII characters");
        request_id_ = std::string(v);
    }
    call_options options;
    options.request_id = request_id_;
    if (const auto& sid = fields_.client_session_id) options.session_id = std::string(trim(*sid));
    if (const auto& tp = fields_.traceparent) options.traceparent = std::string(trim(*tp));
    if (const auto& tm = fields_.timeout_ms) {
        const std::string_view v = trim(*tm);
        std::uint64_t ms = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
        if (v.empty() || ec != std::errc() || end != v.data() + v.size() || ms > 86400000ull * 365)
            return http_error(bhttp::status::bad_request, "X-Timeout-Ms must be a number of milliseconds");
        options.deadline = steady::now() + std::chrono::milliseconds(ms);
    }

    json::value arguments;
    const std::string& body = req().body();
    if (trim(body).empty()) {
        arguments = json::object();
    } else {
        jp_.reset();
        json::error_code ec;
        jp_.write(body.data(), body.size(), ec);
        if (ec) {
            jp_.reset();
            return http_error(bhttp::status::bad_request, json_error_message("the request body", body, ec));
        }
        arguments = jp_.release();
    }

    phase_ = phase::waiting;
    rest_pending_ = true;
    self_hold_ = shared_from_this();
    auto done = [st = st_, weak = weak_from_this(), seq = seq_, token = busy_token(st_)](call_result r) mutable {
        post_to(st, weak, [seq, r = std::move(r)](connection& c) mutable { c.rest_done(seq, std::move(r)); });
        token.reset();
    };
    srv_.host_.async_call(std::move(tool), std::move(operation), std::move(arguments), std::move(options),
                          asio::bind_cancellation_slot(cancel_.slot(), std::move(done)));
    watch();
}

void connection::rest_done(std::uint64_t seq, call_result r) {
    if (!rest_pending_ || seq != seq_ || phase_ != phase::waiting) return;
    rest_pending_ = false;
    cancel_.slot().clear();
    if (r) {
        if (!is_valid_json(*r)) {
            return reply(bhttp::status::internal_server_error,
                         failure_json("INTERNAL", "the tool returned a result that is not valid JSON"));
        }
        std::string body;
        body.reserve(r->size() + 24);
        body += R"({"ok":true,"result":)";
        body += *r;
        body += '}';
        return reply(bhttp::status::ok, std::move(body));
    }
    const tool_error& e = r.error();
    prepare(static_cast<bhttp::status>(http_status_for(e.code)));
    res_.set("Content-Type", "application/json");
    if (e.retry_after) {
        const auto ms = std::max<std::int64_t>(0, e.retry_after->count());
        res_.set("Retry-After", std::to_string((ms + 999) / 1000));
    }
    res_.body() = failure_json(status_name(e.code), e.message);
    send_response();
}

}  // namespace toolhost::serve::detail
