// Health on /healthz, readiness on /readyz, metrics on /metrics, REST on /v1/tools, the circuit
// breakers on /v1/circuit-breakers and /v1/tools/{tool}/circuit-breaker, a tool's restart on
// /v1/tools/{tool}/lifecycle/restart, a configuration reload on /v1/admin/reload.
#include "admin_queue.hpp"
#include "handlers.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost/serve/failure_json.hpp>
#include <toolhost/serve/status_json.hpp>

namespace toolhost::serve::detail {
namespace {

json::object tool_json(const toolhost::host& h, const tool_status& s) {
    json::object o;
    if (auto f = h.find(s.name))
        o = to_json(f->descriptor());
    else
        o["name"] = s.name;
    add_status_json(o, s);
    return o;
}

// The path's segments, decoded; null (answered 400) when the target is malformed.
std::optional<std::vector<std::string>> segments_of(exchange& ex) {
    auto target = boost::urls::parse_origin_form(ex.request().target());
    if (!target) {
        ex.error(bhttp::status::bad_request, "Bad Request: malformed request target");
        return std::nullopt;
    }
    std::vector<std::string> segments;
    for (auto seg : target->segments()) segments.push_back(seg);
    return segments;
}

void not_found(exchange& ex) { ex.error(bhttp::status::not_found, "Not Found: " + std::string(ex.request().target())); }

void rest_done(exchange& ex, call_result r) {
    if (r) {
        if (!is_valid_json(*r)) {
            return ex.reply(bhttp::status::internal_server_error,
                            failure_json("INTERNAL", "the tool returned a result that is not valid JSON"));
        }
        std::string body;
        body.reserve(r->size() + 24);
        body += R"({"ok":true,"result":)";
        body += *r;
        body += '}';
        return ex.reply(bhttp::status::ok, std::move(body));
    }
    const tool_error& e = r.error();
    response& res = ex.start(static_cast<bhttp::status>(http_status_for(e.code)));
    res.set("Content-Type", "application/json");
    if (e.retry_after) {
        const auto ms = std::max<std::int64_t>(0, e.retry_after->count());
        res.set("Retry-After", std::to_string((ms + 999) / 1000));
    }
    res.body() = failure_json(status_name(e.code), e.message);
    ex.send();
}

// The call options from the request's fields; false (answered 400) when one is malformed.
bool read_call_options(exchange& ex, call_options& options) {
    const request_fields& f = ex.fields();
    if (const auto& rid = f.request_id) {
        const std::string_view v = trim(*rid);
        if (v.size() > 256 || !std::all_of(v.begin(), v.end(), [](char c) { return c > 0x20 && c < 0x7f; })) {
            ex.error(bhttp::status::bad_request, "X-Request-Id must be 1-256 visible ASCII characters");
            return false;
        }
        options.request_id = std::string(v);
        ex.set_request_id(options.request_id);
    }
    if (const auto& sid = f.client_session_id) options.session_id = std::string(trim(*sid));
    if (const auto& tp = f.traceparent) options.traceparent = std::string(trim(*tp));
    if (const auto& tm = f.timeout_ms) {
        const std::string_view v = trim(*tm);
        std::uint64_t ms = 0;
        auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), ms);
        if (v.empty() || ec != std::errc() || end != v.data() + v.size() || ms > 86400000ull * 365) {
            ex.error(bhttp::status::bad_request, "X-Timeout-Ms must be a number of milliseconds");
            return false;
        }
        options.deadline = steady::now() + std::chrono::milliseconds(ms);
    }
    return true;
}

void rest_call(const route_services& s, exchange& ex, std::string tool, std::string operation) {
    if (ex.refuse_call(s, tool, operation)) return;
    call_options options;
    if (!read_call_options(ex, options)) return;
    json::value arguments;
    const std::string& body = ex.request().body();
    if (trim(body).empty()) {
        arguments = json::object();
    } else {
        auto parsed = parse_json_body("the request body", body, s.settings.json_max_depth);
        if (!parsed) return ex.error(bhttp::status::bad_request, parsed.error());
        arguments = std::move(*parsed);
    }
    const responder later = ex.defer(nullptr);
    auto done = [later, token = later.busy()](call_result r) mutable {
        later.post([r = std::move(r)](exchange& e) mutable { rest_done(e, std::move(r)); });
        token.reset();
    };
    s.host.async_call(std::move(tool), std::move(operation), std::move(arguments), std::move(options),
                      asio::bind_cancellation_slot(ex.client_gone_slot(), std::move(done)));
}

}  // namespace

void healthz_route(const route_services&, exchange& ex) {
    if (only(ex, bhttp::verb::get, "GET")) ex.reply(bhttp::status::ok, R"({"status":"ok"})");
}

void readyz_route(const route_services& s, exchange& ex) {
    if (!only(ex, bhttp::verb::get, "GET")) return;
    const bool ready = s.ready.load();
    json::array tools;
    for (const auto& t : s.host.status()) {
        json::object o{{"name", t.name}};
        add_status_json(o, t);
        tools.push_back(std::move(o));
    }
    // What an operator compares across the hosts behind one load balancer (docs/deployment.md).
    ex.reply(ready ? bhttp::status::ok : bhttp::status::service_unavailable,
             toolhost::json_text(
                 json::object{{"status", ready ? "ready" : "not_ready"},
                              {"node", s.settings.node_id},
                              {"plugin_set", plugin_set_digest(s.host)},
                              {"database", s.cluster.empty() ? json::value(nullptr) : json::value(s.cluster)},
                              {"tools", std::move(tools)}}));
}

void oauth_metadata_route(const route_services& s, exchange& ex) {
    const std::string_view target = ex.request().target();
    if (!s.auth.is_metadata_path(target.substr(0, target.find('?')))) return not_found(ex);
    if (!only(ex, bhttp::verb::get, "GET")) return;
    ex.reply(bhttp::status::ok, s.auth.metadata_json());
}

void metrics_route(const route_services& s, exchange& ex) {
    if (only(ex, bhttp::verb::get, "GET"))
        ex.reply(bhttp::status::ok, s.host.metrics().render_prometheus(), "text/plain; version=0.0.4; charset=utf-8");
}

void tools_route(const route_services& s, exchange& ex) {
    if (!only(ex, bhttp::verb::get, "GET")) return;
    json::array tools;
    for (const auto& t : s.host.status()) tools.push_back(tool_json(s.host, t));
    ex.reply(bhttp::status::ok, toolhost::json_text(json::object{{"tools", std::move(tools)}}));
}

// GET /v1/tools/{tool}
void tool_route(const route_services& s, exchange& ex) {
    auto segments = segments_of(ex);  // v1, tools, {tool}
    if (!segments) return;
    if (segments->size() != 3) return not_found(ex);
    if (!only(ex, bhttp::verb::get, "GET")) return;
    const std::string& name = (*segments)[2];
    auto t = s.host.status(name);
    if (!t) return ex.error(bhttp::status::not_found, "no tool named '" + name + "'");
    ex.reply(bhttp::status::ok, toolhost::json_text(tool_json(s.host, *t)));
}

// POST /v1/tools/{tool}/{operation}: a call; the body holds the arguments.
void call_route(const route_services& s, exchange& ex) {
    auto segments = segments_of(ex);  // v1, tools, {tool}, {operation}
    if (!segments) return;
    if (segments->size() != 4) return not_found(ex);
    if (!only(ex, bhttp::verb::post, "POST")) return;
    rest_call(s, ex, std::move((*segments)[2]), std::move((*segments)[3]));
}

// The seed's reset_circuit_breaker / reset_all_circuit_breakers, for `toolhost breaker`:
//   GET  /v1/circuit-breakers                               every breaker
//   POST /v1/circuit-breakers/reset                         close them all
//   POST /v1/tools/{tool}/circuit-breaker/{reset|open|disable}  one tool's ({"operation": ...}: one)
void breakers_route(const route_services& s, exchange& ex) {
    if (!only(ex, bhttp::verb::get, "GET")) return;
    const auto now = steady_clock_instance().now();  // the breakers' clock
    json::array all;
    for (const auto& b : s.host.circuit_breakers()) all.push_back(breaker_json(b, now));
    ex.reply(bhttp::status::ok, toolhost::json_text(json::object{{"circuit_breakers", std::move(all)}}));
}

void breakers_reset_route(const route_services& s, exchange& ex) {
    if (!only(ex, bhttp::verb::post, "POST")) return;
    s.host.reset_all_circuit_breakers();
    logging::write(logging::level::info, "serve", "every circuit breaker reset over HTTP");
    ex.reply(bhttp::status::ok, R"({"ok":true})");
}

void breaker_action_route(const route_services& s, exchange& ex) {
    if (!only(ex, bhttp::verb::post, "POST")) return;
    auto segments = segments_of(ex);  // v1, tools, {tool}, circuit-breaker, {action}
    if (!segments) return;
    if (segments->size() != 5) return not_found(ex);
    const std::string& tool = (*segments)[2];
    const std::string& action = (*segments)[4];
    std::string operation;
    if (const std::string& body = ex.request().body(); !body.empty()) {
        auto v = parse_json_body("the request body", body, s.settings.json_max_depth);
        const json::value* op = v && v->is_object() ? v->as_object().if_contains("operation") : nullptr;
        if (!v || !v->is_object() || (op != nullptr && !op->is_string()))
            return ex.error(bhttp::status::bad_request, "the body must be {} or {\"operation\": \"<name>\"}");
        if (op != nullptr) operation = op->get_string();
    }
    auto& h = s.host;
    bool found = false;
    if (action == "reset")
        found = h.reset_circuit_breaker(tool, operation);
    else if (action == "open")
        found = h.force_open_circuit_breaker(tool, operation);
    else if (action == "disable")
        found = h.disable_circuit_breaker(tool, operation);
    else
        return ex.error(bhttp::status::not_found, "no breaker action '" + action + "' (reset, open or disable)");
    if (!found)
        return ex.error(bhttp::status::not_found, operation.empty()
                                                      ? "no tool named '" + tool + "'"
                                                      : "no operation '" + operation + "' in tool '" + tool + "'");
    logging::write(logging::level::info, "serve", "circuit breaker changed over HTTP",
                   {{"tool", tool}, {"operation", operation}, {"action", action}});
    ex.reply(bhttp::status::ok, R"({"ok":true})");
}

// Answers `ex` with what `work` decides, `work` running on the admin thread (admin_queue): it
// blocks, and an I/O thread must not. What it throws is a 500 like any route's.
template <class Work>
void run_admin(const route_services& s, exchange& ex, Work work) {
    const responder later = ex.defer(nullptr);
    const bool queued =
        s.admin.post([later, token = std::make_shared<busy_token>(later.busy()), work = std::move(work)]() mutable {
            std::function<void(exchange&)> answer;
            try {
                answer = work();
            } catch (const std::exception& e) {
                // Thrown again on the connection's thread, where responder::post answers it.
                answer = [what = std::string(e.what())](exchange&) { throw std::runtime_error(what); };
            }
            later.post(std::move(answer));
        });
    if (!queued) {
        ex.undo_defer();
        ex.error(bhttp::status::service_unavailable, "Service Unavailable: the server is shutting down");
    }
}

// POST /v1/tools/{tool}/lifecycle/restart: stops the tool (waiting for its calls) and starts it
// again with a fresh instance and worker; how a tool failed by its worker's crashes comes back.
void restart_route(const route_services& s, exchange& ex) {
    if (!only(ex, bhttp::verb::post, "POST")) return;
    auto segments = segments_of(ex);  // v1, tools, {tool}, lifecycle, restart
    if (!segments) return;
    if (segments->size() != 5) return not_found(ex);
    // The restart waits for the tool's calls and its new instance's initialize: on the admin
    // thread, not this I/O thread.
    run_admin(s, ex, [&s, tool = (*segments)[2]]() -> std::function<void(exchange&)> {
        auto restarted = s.host.restart_tool(tool);
        if (!restarted) {
            const auto e = restarted.error();
            return [e](exchange& x) {
                x.error(
                    e.code == status_code::not_found ? bhttp::status::not_found : bhttp::status::service_unavailable,
                    e.message);
            };
        }
        logging::write(logging::level::info, "serve", "tool restarted over HTTP", {{"tool", tool}});
        json::object o{{"ok", true}, {"name", tool}};
        if (auto st = s.host.status(tool)) add_status_json(o, *st);
        return [body = toolhost::json_text(o)](exchange& x) { x.reply(bhttp::status::ok, body); };
    });
}

// POST /v1/admin/reload: reads the configuration file again and applies it (serve::service::reload):
// 200 with what changed, or 422 with the problems (then nothing changed).
void reload_route(const route_services& s, exchange& ex) {
    if (!only(ex, bhttp::verb::post, "POST")) return;
    if (!s.reload) return not_found(ex);
    run_admin(s, ex, [&s]() -> std::function<void(exchange&)> {
        auto outcome = s.reload();  // {applied, answer}; no structured binding: clang 14 cannot capture one
        return [applied = outcome.first, body = toolhost::json_text(outcome.second)](exchange& x) {
            x.reply(applied ? bhttp::status::ok : bhttp::status::unprocessable_entity, body);
        };
    });
}

}  // namespace toolhost::serve::detail
