// Resources, prompts and completion over REST: /v1/resources, /v1/resources/templates,
// /v1/resources/read, /v1/prompts, /v1/prompts/{name}, /v1/complete. Each request is the MCP
// request it stands for, answered by the MCP engine (the same routing, checks and results as over
// MCP, one implementation), and its JSON-RPC answer becomes the REST answer: {"ok":true,
// "result":...}, or {"ok":false,"error":{code,message}} with the status the error means.
#include "handlers.hpp"

#include <toolhost/json_text.hpp>
#include <toolhost/serve/failure_json.hpp>

#include <boost/url/parse.hpp>

#include <atomic>

namespace toolhost::serve::detail {
namespace {

// The REST answer to the engine's JSON-RPC answer `message`.
void answer(exchange& ex, const std::string& message) {
    json::error_code ec;
    const json::value v = json::parse(message, ec);
    const json::object* o = ec ? nullptr : v.if_object();
    if (o != nullptr) {
        if (const json::value* result = o->if_contains("result")) {
            json::object body{{"ok", true}, {"result", *result}};
            return ex.reply(bhttp::status::ok, toolhost::json_text(body));
        }
        if (const json::value* error = o->if_contains("error"); error != nullptr && error->is_object()) {
            const auto& e = error->get_object();
            const json::value* code = e.if_contains("code");
            const json::value* text = e.if_contains("message");
            const std::string what = text != nullptr && text->is_string() ? std::string(text->get_string()) : "";
            const std::int64_t c =
                code != nullptr && code->is_int64() ? code->get_int64() : std::int64_t{mcp::internal_error};
            if (c == mcp::invalid_params || c == mcp::invalid_request)
                return ex.reply(bhttp::status::bad_request, failure_json("INVALID_ARGUMENT", what));
            if (c == mcp::resource_not_found || c == mcp::method_not_found)
                return ex.reply(bhttp::status::not_found, failure_json("NOT_FOUND", what));
            return ex.reply(bhttp::status::internal_server_error, failure_json("INTERNAL", what));
        }
    }
    ex.reply(bhttp::status::internal_server_error, failure_json("INTERNAL", "the MCP engine gave no answer"));
}

// One REST request handed to the engine: what it answers, and what the connection keeps of it.
class engine_request final : public mcp::exchange, public route_state {
public:
    bool send(std::string) override { return true; }  // (progress and logs do not reach REST clients)
    void finish(std::string message) override {
        if (finished_.exchange(true)) return;
        later.post([m = std::move(message)](detail::exchange& ex) { answer(ex, m); });
        token.reset();
    }
    // The client went away before the answer: its call is cancelled.
    void detach() noexcept override {
        if (auto s = std::move(session); s && !finished_.load()) s->close();
    }
    void abort() noexcept override {
        if (session) session->close();
    }

    responder later;
    busy_token token;
    std::shared_ptr<mcp::session> session;

private:
    std::atomic<bool> finished_{false};
};

// Runs the MCP request `method` with `params` for the REST request `ex`.
void run(const route_services& s, exchange& ex, std::string_view method, json::object params) {
    if (ex.calls_checked(s))
        for (const auto& [tool, operation] : s.mcp.targets_of(method, params))
            if (ex.refuse_call(s, tool, operation)) return;
    auto p = std::make_shared<engine_request>();
    p->session = s.mcp.stateless_session();
    p->later = ex.defer(p);
    p->token = p->later.busy();
    auto session = p->session;
    session->handle(
        json::value(json::object{{"jsonrpc", "2.0"}, {"id", 1}, {"method", method}, {"params", std::move(params)}}),
        std::move(p));
}

// The body as a JSON object ({} when empty); null (answered 400) when it is not one.
std::optional<json::object> body_object(const route_services& s, exchange& ex) {
    const std::string& body = ex.request().body();
    if (trim(body).empty()) return json::object{};
    auto parsed = parse_json_body("the request body", body, s.settings.json_max_depth);
    if (!parsed) {
        ex.error(bhttp::status::bad_request, parsed.error());
        return std::nullopt;
    }
    if (!parsed->is_object()) {
        ex.error(bhttp::status::bad_request, "the request body must be a JSON object");
        return std::nullopt;
    }
    return std::move(parsed->get_object());
}

// A list: GET (with ?cursor=...) or POST ({"cursor": ...}).
void list(const route_services& s, exchange& ex, std::string_view method) {
    json::object params;
    if (ex.request().method() == bhttp::verb::get) {
        auto target = boost::urls::parse_origin_form(ex.request().target());
        if (!target) return ex.error(bhttp::status::bad_request, "Bad Request: malformed request target");
        if (auto it = target->params().find("cursor"); it != target->params().end()) params["cursor"] = (*it).value;
    } else if (ex.request().method() == bhttp::verb::post) {
        auto body = body_object(s, ex);
        if (!body) return;
        params = std::move(*body);
    } else {
        return ex.error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET, POST");
    }
    run(s, ex, method, std::move(params));
}

// A POST whose body is the request's params.
void post(const route_services& s, exchange& ex, std::string_view method) {
    if (ex.request().method() != bhttp::verb::post)
        return ex.error(bhttp::status::method_not_allowed, "Method Not Allowed", "POST");
    auto body = body_object(s, ex);
    if (!body) return;
    run(s, ex, method, std::move(*body));
}

}  // namespace

void resources_route(const route_services& s, exchange& ex) { list(s, ex, "resources/list"); }

void resource_templates_route(const route_services& s, exchange& ex) { list(s, ex, "resources/templates/list"); }

void resource_read_route(const route_services& s, exchange& ex) { post(s, ex, "resources/read"); }

void prompts_route(const route_services& s, exchange& ex) { list(s, ex, "prompts/list"); }

// POST /v1/prompts/{name}: the body is the prompt's arguments.
void prompt_route(const route_services& s, exchange& ex) {
    if (ex.request().method() != bhttp::verb::post)
        return ex.error(bhttp::status::method_not_allowed, "Method Not Allowed", "POST");
    auto target = boost::urls::parse_origin_form(ex.request().target());
    if (!target || target->segments().size() != 3)
        return ex.error(bhttp::status::bad_request, "Bad Request: malformed request target");
    std::string name = *std::next(target->segments().begin(), 2);
    if (s.mcp.targets_of("prompts/get", json::object{{"name", name}}).empty())
        return ex.reply(bhttp::status::not_found, failure_json("NOT_FOUND", "no prompt named " + name));
    auto arguments = body_object(s, ex);
    if (!arguments) return;
    run(s, ex, "prompts/get", json::object{{"name", std::move(name)}, {"arguments", std::move(*arguments)}});
}

void complete_route(const route_services& s, exchange& ex) { post(s, ex, "completion/complete"); }

}  // namespace toolhost::serve::detail
