#include "protocol.hpp"
#include "session_state.hpp"

#include <toolhost/logging.hpp>
#include <toolhost/serve/mcp.hpp>

#include <toolhost/json_input.hpp>
#include <toolhost/json_text.hpp>

#include <algorithm>
#include <iterator>
#include <limits>
#include <optional>

namespace toolhost::mcp {

namespace json = boost::json;

namespace {

// The key of a request of ours (client_peer numbers them from 1) that a response's id may name;
// none for any other id (a string, a fraction, an integer beyond int64).
std::optional<int64_t> pending_key(const json::value& id) noexcept {
    if (id.is_int64()) return id.get_int64();
    if (id.is_uint64() && id.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        return static_cast<int64_t>(id.get_uint64());
    return std::nullopt;
}

// One row of the method table.
struct method_entry {
    std::string_view name;
    bool before_initialize;  // answered before initialize and after the session ended
    void (session::*run)(const json::value& id, json::object params, std::shared_ptr<exchange> out,
                         const request_context& ctx);
};

}  // namespace

session::session(server& srv, std::string id, bool stateless)
    : server_(srv), id_(std::move(id)), st_(std::make_unique<state>()) {
    st_->stateless = stateless;
    if (stateless) {
        st_->initialized = true;
        st_->client_ready = true;
        st_->version = std::string(latest_protocol_version);
    }
}

session::~session() { close(); }

bool session::initialized() const noexcept {
    std::lock_guard lock(st_->m);
    return st_->initialized;
}

std::string session::protocol_version() const {
    std::lock_guard lock(st_->m);
    return st_->version;
}

void session::set_standalone(std::shared_ptr<standalone_stream> s) {
    std::lock_guard lock(st_->m);
    st_->standalone = std::move(s);
}

bool session::closed() const noexcept {
    std::lock_guard lock(st_->m);
    return st_->closed;
}

std::size_t session::in_flight() const {
    std::lock_guard lock(st_->m);
    return st_->in_flight.size();
}

uint64_t session::revision() const noexcept { return st_->revision.load(std::memory_order_relaxed); }

std::optional<serve::shared_session> session::share() const {
    std::lock_guard lock(st_->m);
    if (!st_->initialized || st_->stateless || st_->closed) return std::nullopt;
    serve::shared_session s;
    s.id = id_;
    s.version = st_->version;
    s.client_capabilities = st_->client_capabilities;
    s.log_threshold = st_->log_threshold.load(std::memory_order_relaxed);
    s.client_ready = st_->client_ready;
    s.watched.assign(st_->watched.begin(), st_->watched.end());
    return s;
}

std::chrono::steady_clock::time_point session::last_activity() const {
    std::lock_guard lock(st_->m);
    return st_->last_activity;
}

void session::close() {
    std::vector<std::shared_ptr<boost::asio::cancellation_signal>> calls;
    std::vector<std::shared_ptr<pending_request>> waiting;
    std::vector<std::shared_ptr<server::listener>> listens;
    std::set<std::string, std::less<>> watched;
    {
        std::lock_guard lock(st_->m);
        if (st_->closed) return;
        watched.swap(st_->watched);
        st_->closed = true;
        st_->standalone.reset();
        for (auto& [id, sig] : st_->in_flight) calls.push_back(sig);
        for (auto& [id, p] : st_->pending) waiting.push_back(p);
        st_->pending.clear();
        for (auto& [id, l] : st_->listens) listens.push_back(std::move(l));
        st_->listens.clear();
        // Emitting under the lock: a call's completion removes its entry under the same lock, so
        // no signal is emitted while its slot is being torn down.
        for (auto& sig : calls) sig->emit(boost::asio::cancellation_type::terminal);
    }
    for (auto& p : waiting) {
        std::lock_guard lock(p->m);
        p->done = true;
        p->answer = json::object{{"error", {{"code", internal_error}, {"message", "the MCP session ended"}}}};
        p->cv.notify_all();
    }
    // The server ends the session's subscriptions: each gets its graceful end.
    for (auto& l : listens) server_.end_listener(l, true);
    for (const auto& uri : watched) server_.unwatch(uri, this);
}

void session::handle(std::string_view message, std::shared_ptr<exchange> out) {
    auto parsed = parse_json_input(message, server_.options().json_max_depth);
    if (!parsed) {
        out->finish(error_response(nullptr, parse_error,
                                   "parse error: the message is not valid JSON: " + parsed.error().to_string()));
        return;
    }
    handle(std::move(*parsed), std::move(out));
}

void session::handle(json::value message, std::shared_ptr<exchange> out) {
    {
        std::lock_guard lock(st_->m);
        st_->last_activity = std::chrono::steady_clock::now();
    }
    if (message.is_array()) {
        out->finish(error_response(nullptr, invalid_request,
                                   "JSON-RPC batches are not supported (MCP removed them in 2025-06-18); send one "
                                   "message per request"));
        return;
    }
    if (!message.is_object()) {
        out->finish(error_response(nullptr, invalid_request, "invalid request: a JSON-RPC message must be an object"));
        return;
    }
    json::object& msg = message.get_object();
    const json::value* idp = msg.if_contains("id");
    const json::value id = idp != nullptr && valid_id(*idp) ? *idp : json::value(nullptr);
    const json::value* jsonrpc = msg.if_contains("jsonrpc");
    if (jsonrpc == nullptr || !jsonrpc->is_string() || jsonrpc->get_string() != "2.0") {
        out->finish(error_response(id, invalid_request, "invalid request: \"jsonrpc\" must be \"2.0\""));
        return;
    }
    const json::value* method = msg.if_contains("method");
    if (method == nullptr) {
        // A response to one of our requests: "result" or "error" (an object), never both.
        const json::value* result = msg.if_contains("result");
        const json::value* error = msg.if_contains("error");
        if (idp == nullptr || (result == nullptr && error == nullptr)) {
            out->finish(error_response(id, invalid_request, "invalid request: no \"method\", and not a response"));
            return;
        }
        std::shared_ptr<pending_request> p;
        if (const auto key = pending_key(*idp)) {
            std::lock_guard lock(st_->m);
            if (auto it = st_->pending.find(*key); it != st_->pending.end()) {
                p = it->second;
                st_->pending.erase(it);
            }
        }
        if (p) {
            // The call waiting for it fails with what is wrong rather than reading half of it.
            const char* malformed = result != nullptr && error != nullptr     ? "has both \"result\" and \"error\""
                                    : error != nullptr && !error->is_object() ? "has an \"error\" that is not an object"
                                                                              : nullptr;
            json::value answer = std::move(message);
            if (malformed != nullptr)
                answer = json::object{
                    {"error", {{"code", invalid_request}, {"message", std::string("the response ") + malformed}}}};
            std::lock_guard lock(p->m);
            p->answer = std::move(answer);
            p->done = true;
            p->cv.notify_all();
        } else if (logging::enabled(logging::level::debug)) {
            logging::write(logging::level::debug, "mcp", "response to no pending request ignored",
                           {{"session", id_}, {"id", toolhost::json_text(*idp)}});
        }
        out->finish({});
        return;
    }
    if (!method->is_string()) {
        out->finish(error_response(id, invalid_request, "invalid request: \"method\" must be a string"));
        return;
    }
    const std::string_view name = method->get_string();
    // (Not msg["params"]: operator[] may grow the table and invalidate `idp` and `method`.)
    json::value* given = msg.if_contains("params");
    json::value params = given != nullptr ? std::move(*given) : json::value(json::object{});
    if (!params.is_object()) {
        if (idp != nullptr) {
            out->finish(error_response(id, invalid_params, "invalid params: \"params\" must be an object"));
        } else {
            out->finish({});
        }
        return;
    }
    if (idp == nullptr) {  // a notification
        on_notification(name, params.get_object());
        out->finish({});
        return;
    }
    if (!valid_id(*idp)) {
        out->finish(error_response(nullptr, invalid_request, "invalid request: \"id\" must be a string or an integer"));
        return;
    }
    if (stateless_request(name, &params))
        return on_stateless_request(name, id, std::move(params.get_object()), std::move(out));
    on_request(name, id, std::move(params.get_object()), std::move(out));
}

void session::send_standalone(const std::string& message) {
    std::shared_ptr<standalone_stream> s;
    {
        std::lock_guard lock(st_->m);
        if (!st_->initialized || st_->closed) return;
        s = st_->standalone;
    }
    if (s) s->send(message);
}

void session::on_notification(std::string_view method, const json::object& params) {
    if (method == "notifications/initialized") {
        std::lock_guard lock(st_->m);
        if (!st_->client_ready) st_->revision.fetch_add(1, std::memory_order_relaxed);
        st_->client_ready = true;
        return;
    }
    if (method == "notifications/cancelled") {
        const json::value* rid = params.if_contains("requestId");
        if (rid == nullptr || !valid_id(*rid)) return;
        const std::string key = toolhost::json_text(*rid);
        if (end_listen(key, false)) {  // a subscription: it ends without a response
            logging::write(logging::level::debug, "mcp", "subscription cancelled by the client",
                           {{"session", id_}, {"id", key}});
            return;
        }
        std::lock_guard lock(st_->m);
        if (auto it = st_->in_flight.find(key); it != st_->in_flight.end()) {
            it->second->emit(boost::asio::cancellation_type::terminal);
            logging::write(logging::level::debug, "mcp", "call cancelled by the client",
                           {{"session", id_}, {"id", key}});
        }
        return;
    }
    // notifications/roots/list_changed and anything newer: nothing to do.
}

void session::on_request(std::string_view method, const json::value& id, json::object params,
                         std::shared_ptr<exchange> out) {
    static constexpr method_entry methods[] = {
        {"ping", true, &session::on_ping},
        {"initialize", true, &session::on_initialize},
        {"tools/list", false, &session::on_tools_list},
        {"tools/call", false, &session::call_tool},
        {"logging/setLevel", false, &session::on_set_level},
        {"resources/list", false, &session::on_resources_list},
        {"resources/templates/list", false, &session::on_resource_templates_list},
        {"resources/read", false, &session::on_resources_read},
        {"resources/subscribe", false, &session::on_resources_subscribe},
        {"resources/unsubscribe", false, &session::on_resources_unsubscribe},
        {"prompts/list", false, &session::on_prompts_list},
        {"prompts/get", false, &session::on_prompts_get},
        {"completion/complete", false, &session::on_complete},
    };
    const auto* m =
        std::find_if(std::begin(methods), std::end(methods), [&](const method_entry& e) { return e.name == method; });
    request_context ctx;
    bool closed = false, initialized = false;
    {
        std::lock_guard lock(st_->m);
        closed = st_->closed;
        initialized = st_->initialized;
        ctx.version = st_->version;
    }
    if (m == std::end(methods) || !m->before_initialize) {
        // (Answers outside the lock: an exchange may call back into the session.)
        if (closed) return out->finish(error_response(id, invalid_request, "the session has ended"));
        if (!initialized)
            return out->finish(error_response(
                id, invalid_request, "invalid request: the session is not initialized; send initialize first"));
        if (m == std::end(methods))
            return out->finish(error_response(id, method_not_found, "method not found: " + std::string(method)));
    }
    (this->*(m->run))(id, std::move(params), std::move(out), ctx);
}

}  // namespace toolhost::mcp
