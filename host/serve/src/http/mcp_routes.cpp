// MCP Streamable HTTP on /mcp: POST (a message to the engine; a JSON or SSE answer), GET (the
// session's stream of unrelated notifications), DELETE (end the session).
#include "auth/base64url.hpp"
#include "handlers.hpp"
#include "mcp/protocol.hpp"
#include "sessions.hpp"

namespace toolhost::serve::detail {
namespace {

// The exchange whose session::handle() runs on this thread right now: an mcp::exchange called
// back from inside handle() delivers directly instead of posting.
thread_local const exchange* tls_handling = nullptr;

bhttp::status stateless_status(std::string_view message);
void mcp_post_route(const route_services& s, exchange& ex);
void mcp_get_route(const route_services& s, exchange& ex);
void mcp_delete_route(const route_services& s, exchange& ex);

// One message of a POST, handed to the engine: the engine's mcp::exchange, and what the
// connection keeps of it until the answer is out.
class mcp_post final : public mcp::exchange, public route_state {
public:
    mcp_post(bool json_only, bool sse_only, bool is_request, bool stateless_era)
        : json_only_(json_only), sse_only_(sse_only), is_request_(is_request), stateless_era_(stateless_era) {}

    bool send(std::string message) override {
        if (json_only_) {
            // The client takes one JSON response: notifications are dropped; a request of the
            // server's cannot be delivered.
            json::error_code ec;
            const json::value v = json::parse(message, ec);
            const auto* o = ec ? nullptr : v.if_object();
            return !(o && o->contains("method") && o->contains("id"));
        }
        if (tls_handling != nullptr && tls_handling == raw_) {
            held_sends_.push_back(std::move(message));
            return true;
        }
        return later_.post([m = std::move(message)](detail::exchange& ex) mutable { on_send(ex, std::move(m)); });
    }

    void finish(std::string message) override {
        if (finished_.exchange(true)) return;
        if (tls_handling != nullptr && tls_handling == raw_)
            held_finish_ = std::move(message);
        else
            later_.post([m = std::move(message)](detail::exchange& ex) mutable { on_finish(ex, std::move(m)); });
        release_token();
    }

    // subscriptions/listen: the stream lasts until the client closes it, so the server does not
    // wait for it when it stops (it ends it, stopping()), and keeps it alive meanwhile.
    void long_lived() override {
        long_lived_.store(true);
        release_token();
    }
    bool stopping() noexcept override {
        if (!long_lived_.load() || !stateless_) return false;
        auto s = stateless_;
        s->close();  // the engine answers with the subscription's graceful end (on_finish)
        return true;
    }

    // A disconnect does not cancel a 2025 call (its client may still learn the outcome through the
    // session); a 2026-07-28 request is gone with its stream (the revision's cancellation), so its
    // call is cancelled.
    void detach() noexcept override {
        auto s = std::move(stateless_);
        if (s && stateless_era_ && !finished_.load()) s->close();
    }
    void abort() noexcept override {
        if (stateless_) stateless_->close();
    }

    // Hands the message to the engine; what it sends from inside handle() goes out once it returned.
    void handle(mcp::session& session, json::value message, std::shared_ptr<mcp_post> self, detail::exchange& ex);

    const detail::exchange* raw_ = nullptr;  // compared only, never dereferenced off its thread
    responder later_;
    busy_token token_;
    std::shared_ptr<mcp::session> stateless_;  // kept for the request, closed if the server stops
    std::string new_session_id;
    std::shared_ptr<session_entry> new_entry;
    std::shared_ptr<session_entry> entry;  // the session's, new or found (not for stateless ones)
    std::string entry_id;
    session_table* sessions = nullptr;

private:
    static void on_send(detail::exchange& ex, std::string message);
    static void on_finish(detail::exchange& ex, std::string message);
    static mcp_post* of(detail::exchange& ex) { return static_cast<mcp_post*>(ex.state()); }

    void release_token() {
        if (!token_released_.exchange(true)) token_.reset();
    }

    const bool json_only_, sse_only_, is_request_;
    const bool stateless_era_;  // 2026-07-28: the JSON-RPC error decides the HTTP status
    std::atomic<bool> finished_{false};
    std::atomic<bool> long_lived_{false};
    std::atomic<bool> token_released_{false};
    std::vector<std::string> held_sends_;  // from inside handle()
    std::optional<std::string> held_finish_;
};

void mcp_post::handle(mcp::session& session, json::value message, std::shared_ptr<mcp_post> self,
                      detail::exchange& ex) {
    // A request's id, for the answer to a failure (the engine owns the message once it starts).
    const json::value* idp = is_request_ ? message.as_object().if_contains("id") : nullptr;
    json::value id = idp != nullptr ? *idp : json::value(nullptr);
    tls_handling = raw_;
    std::optional<std::string> failure;  // what was thrown, for the log
    try {
        session.handle(std::move(message), std::move(self));
    } catch (const std::exception& e) {
        failure = e.what();
    } catch (...) {
        failure = "an exception that is not a std::exception";
    }
    if (failure) {
        // The detail goes to the log, never to the client; the exchange ends here unless the
        // engine had already answered.
        logging::write(logging::level::error, "serve.http", "handling an MCP message failed", {{"error", *failure}});
        if (is_request_) {
            // A JSON-RPC internal error with the request's id (if the engine did not answer).
            finish(mcp::internal_error_answer(json::object{{"id", std::move(id)}, {"method", nullptr}}));
        } else if (!finished_.exchange(true)) {
            token_.reset();
            tls_handling = nullptr;
            ex.undo_defer();
            return ex.error(bhttp::status::internal_server_error,
                            "Internal error: the server failed while handling this message (its log has the details)",
                            {}, mcp::internal_error);
        }
    }
    tls_handling = nullptr;
    // What the engine sent from inside handle(), now that it has returned.
    auto held = std::move(held_sends_);
    for (auto& m : held) on_send(ex, std::move(m));
    if (held_finish_) {
        auto f = std::move(*held_finish_);
        held_finish_.reset();
        on_finish(ex, std::move(f));
    }
}

void mcp_post::on_send(detail::exchange& ex, std::string message) {
    if (!ex.pending()) return;
    if (!ex.events_started()) {
        ex.start_events(of(ex)->new_session_id);
        if (of(ex)->long_lived_.load()) ex.keep_open();
    }
    ex.event(message);
}

void mcp_post::on_finish(detail::exchange& ex, std::string message) {
    if (!ex.pending()) return;
    mcp_post& p = *of(ex);
    std::string session_header = p.new_session_id;
    if (!session_header.empty()) {
        // The session lives on only when initialize succeeded.
        json::error_code ec;
        const json::value v = json::parse(message, ec);
        const auto* o = ec ? nullptr : v.if_object();
        if (!o || !o->contains("result")) {
            p.sessions->end(session_header, p.new_entry);
            session_header.clear();
        }
    }
    if (ex.events_started()) return ex.end_events(message);
    if (message.empty() && p.is_request_) {
        // A request that gets no response (the client cancelled it): the transport still owes
        // a 200 with a stream (202 is for notifications and responses only); it ends empty.
        ex.start_events(session_header);
        return ex.end_events();
    }
    if (message.empty()) {
        response& r = ex.start(bhttp::status::accepted);
        if (!session_header.empty()) r.set("Mcp-Session-Id", session_header);
        return ex.send();
    }
    const bhttp::status status = p.stateless_era_ ? stateless_status(message) : bhttp::status::ok;
    if (p.sse_only_ && status == bhttp::status::ok) {
        ex.start_events(session_header);
        return ex.end_events(message);
    }
    response& r = ex.start(status);
    r.set("Content-Type", "application/json");
    if (!session_header.empty()) r.set("Mcp-Session-Id", session_header);
    r.body() = std::move(message);
    ex.send();
}

// A header value as MCP encodes it: as it is, or "=?base64?...?=" around the base64 of its
// UTF-8 text. Nullopt when the encoding is broken.
std::optional<std::string> decode_header_value(std::string_view v) {
    constexpr std::string_view prefix = "=?base64?", suffix = "?=";
    if (v.size() < prefix.size() + suffix.size() || !v.starts_with(prefix) || !v.ends_with(suffix))
        return std::string(v);
    return auth::base64_decode(v.substr(prefix.size(), v.size() - prefix.size() - suffix.size()));
}

// 2026-07-28 repeats parts of the body in headers so that a load balancer can route without
// reading it; the server checks they agree, or a proxy and the server would act on different
// requests. What disagrees, or nothing.
std::optional<std::string> header_mismatch(const request_fields& f, std::string_view method,
                                           const json::object* params) {
    const json::value* meta = params != nullptr ? params->if_contains("_meta") : nullptr;
    const json::value* version = meta != nullptr && meta->is_object()
                                     ? meta->get_object().if_contains(mcp::meta_key::protocol_version)
                                     : nullptr;
    if (!f.protocol_version) return std::string("the MCP-Protocol-Version header is missing");
    if (version != nullptr && version->is_string() && trim(*f.protocol_version) != version->get_string())
        return "MCP-Protocol-Version header value '" + std::string(trim(*f.protocol_version)) +
               "' does not match body value '" + std::string(version->get_string()) + "'";
    if (!f.mcp_method) return std::string("the Mcp-Method header is missing");
    if (trim(*f.mcp_method) != method)
        return "Mcp-Method header value '" + std::string(trim(*f.mcp_method)) + "' does not match body value '" +
               std::string(method) + "'";
    const char* source = method == "tools/call" || method == "prompts/get" ? "name"
                         : method == "resources/read"                      ? "uri"
                                                                           : nullptr;
    if (source == nullptr) return std::nullopt;
    if (!f.mcp_name) return std::string("the Mcp-Name header is missing");
    const auto name = decode_header_value(trim(*f.mcp_name));
    if (!name) return std::string("the Mcp-Name header is not valid =?base64?...?= encoding");
    const json::value* body = params != nullptr ? params->if_contains(source) : nullptr;
    if (body == nullptr || !body->is_string() || body->get_string() != *name)
        return "Mcp-Name header value '" + std::string(trim(*f.mcp_name)) + "' does not match body value " +
               (body != nullptr ? toolhost::json_text(*body) : std::string("(none)"));
    return std::nullopt;
}

// Whether an answer may be a JSON-RPC error. The engine writes "jsonrpc", "id", then "result" or
// "error" (protocol.cpp): past the id, one comparison tells; any other text is searched.
bool may_be_error(std::string_view message) noexcept {
    constexpr std::string_view head = R"({"jsonrpc":"2.0","id":)";
    if (message.starts_with(head)) {
        std::size_t i = head.size();
        if (i < message.size() && message[i] == '"') {
            for (++i; i < message.size() && message[i] != '"'; ++i)
                if (message[i] == '\\') ++i;
            ++i;
        } else {
            while (i < message.size() && message[i] != ',' && message[i] != '}') ++i;
        }
        if (i <= message.size()) {
            const std::string_view rest = message.substr(i);
            if (rest.starts_with(R"(,"result":)")) return false;
            if (rest.starts_with(R"(,"error":)")) return true;
        }
    }
    return message.find(R"("error":)") != std::string_view::npos;
}

// The status of a 2026-07-28 answer: 400 for the errors that revision gives one (a revision the
// server does not speak, a header that disagrees, a capability the client lacks), 404 for a
// method it does not know; 200 otherwise.
bhttp::status stateless_status(std::string_view message) {
    if (!may_be_error(message)) return bhttp::status::ok;
    json::error_code ec;
    const json::value v = json::parse(message, ec);
    const json::value* error = ec || !v.is_object() ? nullptr : v.get_object().if_contains("error");
    const json::value* code =
        error != nullptr && error->is_object() ? error->get_object().if_contains("code") : nullptr;
    if (code == nullptr || !code->is_int64()) return bhttp::status::ok;
    switch (code->get_int64()) {
    case mcp::unsupported_protocol_version:
    case mcp::header_mismatch:
    case mcp::missing_required_client_capability: return bhttp::status::bad_request;
    case mcp::method_not_found: return bhttp::status::not_found;
    case mcp::invalid_params: {
        // The _meta envelope itself is wrong (not an argument of the method).
        const json::value* data = error->get_object().if_contains("data");
        return data != nullptr && data->is_object() && data->get_object().contains("envelope")
                   ? bhttp::status::bad_request
                   : bhttp::status::ok;
    }
    default: return bhttp::status::ok;
    }
}

// A legacy request (or a GET or DELETE) whose MCP-Protocol-Version header names no revision
// this server speaks.
void refuse_protocol_version(exchange& ex, std::string_view version) {
    std::string supported;
    for (auto v : mcp::stateless_protocol_versions) supported += (supported.empty() ? "" : ", ") + std::string(v);
    for (auto v : mcp::protocol_versions) supported += (supported.empty() ? "" : ", ") + std::string(v);
    ex.error(bhttp::status::bad_request, "Bad Request: Unsupported protocol version: " + std::string(version) +
                                             " (supported versions: " + supported + ")");
}

// A 400 whose body is the JSON-RPC error for `message` (its id when it is a request with a
// valid one, else null).
void bad_request(exchange& ex, const json::object* message, int code, const std::string& text,
                 const json::value* data = nullptr) {
    const json::value* id = message != nullptr ? message->if_contains("id") : nullptr;
    response& r = ex.start(bhttp::status::bad_request);
    r.set("Content-Type", "application/json");
    r.body() = mcp::error_response(id != nullptr && mcp::valid_id(*id) ? *id : json::value(nullptr), code, text, data);
    ex.send();
}

// Whether `id` has the shape of the session ids this server makes ("<node>.<32 hex digits>"):
// anything else is not looked up in the shared store.
bool session_id_shape(std::string_view id) noexcept {
    const auto dot = id.rfind('.');
    if (dot == std::string_view::npos || id.size() - dot - 1 != 32 || !check_node_id(id.substr(0, dot)).empty())
        return false;
    return std::all_of(id.begin() + static_cast<std::ptrdiff_t>(dot) + 1, id.end(),
                       [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// A session this host does not hold, with a shared store (serve::cluster): looked up there off
// the I/O thread; when it is there and this client opened it, this host takes it over and
// `again` handles the request as if it had always been here, else the answer is 404 (the client
// initializes again). False when there is nothing to look up (no store, not an id of ours).
bool resume_from_store(const route_services& s, exchange& ex, std::string_view id, route_handler again) {
    session_sharing* sharing = s.sessions.sharing();
    if (sharing == nullptr || !session_id_shape(id)) return false;
    const responder later = ex.defer(nullptr);
    auto token = std::make_shared<busy_token>(later.busy());  // stop() waits for the answer
    sharing->lookup(std::string(id), [&s, later, token, again,
                                      client = std::string(ex.client())](std::optional<shared_session> found) {
        later.post([&s, found = std::move(found), again, client](exchange& ex) {
            ex.undo_defer();
            if (!found || found->client != client)
                return ex.error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
            session_table::refusal why{};
            if (!s.sessions.adopt(*found, client, why))
                return ex.error(bhttp::status::service_unavailable,
                                why == session_table::refusal::client_full
                                    ? "Service Unavailable: this client has its maximum of MCP sessions open here"
                                    : "Service Unavailable: too many MCP sessions (" +
                                          std::to_string(s.settings.max_sessions) + ")");
            again(s, ex);
        });
        token->reset();
    });
    return true;
}

// The session of a POST; null when answered with an error.
std::shared_ptr<mcp::session> post_session(const route_services& s, exchange& ex, bool is_initialize, mcp_post& p) {
    if (s.settings.stateless) return p.stateless_ = s.mcp.stateless_session();
    const auto& header = ex.fields().session_id;
    if (!header) {
        if (!is_initialize) {
            ex.error(bhttp::status::bad_request, "Bad Request: Mcp-Session-Id header is required");
            return nullptr;
        }
        std::string id = random_session_id(s.settings.node_id);
        session_table::refusal why{};
        auto entry = s.sessions.add(id, ex.client(), why);
        if (why == session_table::refusal::client_full) {
            ex.error(bhttp::status::too_many_requests,
                     "Too Many Requests: this client has its maximum of " +
                         std::to_string(s.settings.max_sessions_per_client) +
                         " MCP sessions open; end one (DELETE /mcp) or let one expire");
            return nullptr;
        }
        if (!entry) {
            ex.error(bhttp::status::service_unavailable,
                     "Service Unavailable: too many MCP sessions (" + std::to_string(s.settings.max_sessions) + ")");
            return nullptr;
        }
        p.entry_id = p.new_session_id = std::move(id);
        p.entry = p.new_entry = std::move(entry);
        return p.new_entry->session;
    }
    auto entry = s.sessions.find(trim(*header), ex.client());
    if (!entry && resume_from_store(s, ex, trim(*header), mcp_post_route)) return nullptr;
    if (!entry || entry->session->closed()) {
        if (entry) s.sessions.end(std::string(trim(*header)), entry);
        ex.error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
        return nullptr;
    }
    p.entry_id = std::string(trim(*header));
    p.entry = entry;
    return entry->session;
}

void mcp_post_route(const route_services& s, exchange& ex) {
    const accepted_types accept = parse_accept(ex.fields().accept);
    if (!accept.json && !accept.sse)
        return ex.error(bhttp::status::not_acceptable,
                        "Not Acceptable: Client must accept application/json or text/event-stream");
    if (!is_json_media_type(ex.fields().content_type))
        return ex.error(bhttp::status::unsupported_media_type,
                        "Unsupported Media Type: Content-Type must be application/json");

    auto parsed = parse_json_body("the message", ex.request().body(), s.settings.json_max_depth);
    if (!parsed) return ex.error(bhttp::status::bad_request, "Parse error: " + parsed.error(), {}, mcp::parse_error);
    json::value& message = *parsed;
    const json::object* obj = message.if_object();
    const json::value* method = obj ? obj->if_contains("method") : nullptr;
    const bool is_initialize = method && method->is_string() && method->get_string() == "initialize";
    const bool is_request = method != nullptr && obj->contains("id");
    // A tool the client may not call, or calls too often, is refused at the HTTP level (MCP:
    // 403 insufficient_scope with WWW-Authenticate; 429 with Retry-After): tools/call, and the
    // resources (read or watched), prompts and completions that tools' operations serve.
    if (is_request && method->is_string() && ex.calls_checked(s)) {
        if (const auto* params = obj->if_contains("params"); params && params->is_object())
            for (const auto& [tool, operation] : s.mcp.targets_of(method->get_string(), params->get_object()))
                if (ex.refuse_call(s, tool, operation)) return;
        ex.calls_passed();
    }

    const json::value* params = obj ? obj->if_contains("params") : nullptr;
    const bool stateless_era = method && method->is_string() && mcp::stateless_request(method->get_string(), params);
    if (const auto& pv = ex.fields().protocol_version; pv && !stateless_era) {
        if (mcp::stateless_protocol_version(trim(*pv))) {
            // A 2026-07-28 header over a body without its _meta.
            const json::value data = json::object{{"envelope", {{"missing", json::array{"_meta"}}}}};
            return bad_request(ex, is_request ? obj : nullptr, mcp::invalid_params,
                               "invalid params: the MCP-Protocol-Version header names revision " +
                                   std::string(trim(*pv)) + ", but the body has no _meta with \"" +
                                   std::string(mcp::meta_key::protocol_version) + "\"",
                               &data);
        }
        if (!mcp::supported_protocol_version(trim(*pv))) return refuse_protocol_version(ex, trim(*pv));
    }
    if (stateless_era && is_request) {
        if (auto why = header_mismatch(ex.fields(), method->get_string(), params ? params->if_object() : nullptr))
            return bad_request(ex, obj, mcp::header_mismatch, "Header mismatch: " + *why);
    }
    if (stateless_era && is_request && !accept.sse && method->get_string() == "subscriptions/listen")
        return ex.error(bhttp::status::not_acceptable,
                        "Not Acceptable: subscriptions/listen answers with an event stream; the client must "
                        "accept text/event-stream");
    auto p =
        std::make_shared<mcp_post>(accept.json && !accept.sse, accept.sse && !accept.json, is_request, stateless_era);
    // A 2026-07-28 message stands on its own: any Mcp-Session-Id is ignored, none is made.
    auto session = stateless_era ? (p->stateless_ = s.mcp.stateless_session()) : post_session(s, ex, is_initialize, *p);
    if (!session) return;
    p->sessions = &s.sessions;
    p->raw_ = &ex;
    p->later_ = ex.defer(p);
    p->token_ = p->later_.busy();
    auto entry = p->entry;
    const std::string entry_id = p->entry_id;
    p->handle(*session, std::move(message), p, ex);
    if (entry) s.sessions.share(entry_id, *entry);
}

// GET /mcp: the session's stream of unrelated notifications, also what the engine sends
// through it (mcp::standalone_stream).
class get_stream final : public mcp::standalone_stream, public route_state {
public:
    get_stream(std::shared_ptr<session_entry> entry, std::uint64_t seq) : entry_(std::move(entry)), seq_(seq) {}

    bool send(std::string message) override {
        return later.post([m = std::move(message)](exchange& ex) { ex.event(m); });
    }
    // The stream ends: it is no longer the session's.
    void detach() noexcept override {
        auto entry = entry_.lock();
        entry_.reset();
        if (!entry) return;
        std::lock_guard l(entry->m);
        if (entry->stream_seq == seq_) {
            entry->stream_seq = 0;
            entry->stream = {};
            entry->session->set_standalone(nullptr);
        }
    }

    responder later;

private:
    std::weak_ptr<session_entry> entry_;  // weak: the entry's session holds this stream
    const std::uint64_t seq_;
};

void mcp_get_route(const route_services& s, exchange& ex) {
    const accepted_types accept = parse_accept(ex.fields().accept);
    if (!accept.sse)
        return ex.error(bhttp::status::not_acceptable, "Not Acceptable: Client must accept text/event-stream");
    const auto& header = ex.fields().session_id;
    if (!header) return ex.error(bhttp::status::bad_request, "Bad Request: Mcp-Session-Id header is required");
    auto entry = s.sessions.find(trim(*header), ex.client());
    if (!entry && resume_from_store(s, ex, trim(*header), mcp_get_route)) return;
    if (!entry || entry->session->closed())
        return ex.error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
    {
        std::lock_guard l(entry->m);
        if (entry->stream_seq != 0 && entry->stream.alive())
            return ex.error(bhttp::status::conflict, "Conflict: Only one SSE stream is allowed per session");
        static std::atomic<std::uint64_t> next_stream{0};
        const std::uint64_t stream_seq = next_stream.fetch_add(1, std::memory_order_relaxed) + 1;
        auto stream = std::make_shared<get_stream>(entry, stream_seq);
        stream->later = ex.defer(stream);
        entry->stream_seq = stream_seq;
        entry->stream = stream->later;
        entry->session->set_standalone(std::move(stream));
    }
    ex.start_events({});
    ex.keep_open();  // a stream is not a request that stop() waits for: it ends when the server stops
}

// DELETE /mcp: ends the session.
void mcp_delete_route(const route_services& s, exchange& ex) {
    const auto& header = ex.fields().session_id;
    if (!header) return ex.error(bhttp::status::bad_request, "Bad Request: Mcp-Session-Id header is required");
    const std::string id(trim(*header));
    auto entry = s.sessions.find(id, ex.client());
    if (!entry && resume_from_store(s, ex, id, mcp_delete_route)) return;
    if (!entry) return ex.error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
    s.sessions.end(id, entry);
    ex.start(bhttp::status::ok);
    ex.send();
}

}  // namespace

void mcp_route(const route_services& s, exchange& ex) {
    const auto method = ex.request().method();
    // (A POST's header is checked against its body: a 2026-07-28 body answers for itself.)
    if (method == bhttp::verb::post) return mcp_post_route(s, ex);
    if (const auto& pv = ex.fields().protocol_version; pv && !mcp::supported_protocol_version(trim(*pv))) {
        if (mcp::stateless_protocol_version(trim(*pv)))
            return ex.error(bhttp::status::method_not_allowed,
                            "Method Not Allowed: revision " + std::string(trim(*pv)) +
                                " has no GET or DELETE on the MCP endpoint; POST each message",
                            "POST");
        return refuse_protocol_version(ex, trim(*pv));
    }
    if (s.settings.stateless)
        return ex.error(bhttp::status::method_not_allowed,
                        "Method Not Allowed: this server is stateless and only takes POST", "POST");
    if (method == bhttp::verb::get) return mcp_get_route(s, ex);
    if (method == bhttp::verb::delete_) return mcp_delete_route(s, ex);
    ex.error(bhttp::status::method_not_allowed, "Method Not Allowed", "GET, POST, DELETE");
}

}  // namespace toolhost::serve::detail
