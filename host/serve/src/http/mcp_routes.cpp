// MCP Streamable HTTP on /mcp: POST (a message to the engine; a JSON or SSE answer), GET (the
// session's stream of unrelated notifications), DELETE (end the session).
#include "connection.hpp"

namespace toolhost::serve::detail {

class mcp_exchange final : public mcp::exchange {
public:
    mcp_exchange(std::shared_ptr<shared_state> st, connection* raw, std::weak_ptr<connection> c, std::uint64_t seq,
                 bool json_only)
        : st_(std::move(st)), raw_(raw), conn_(std::move(c)), seq_(seq), json_only_(json_only), token_(st_) {}

    bool send(std::string message) override {
        if (json_only_) {
            // The client takes one JSON response: notifications are dropped; a request of the
            // server's cannot be delivered.
            json::error_code ec;
            const json::value v = json::parse(message, ec);
            const auto* o = ec ? nullptr : v.if_object();
            return !(o && o->contains("method") && o->contains("id"));
        }
        if (tls_handling == raw_) {
            raw_->deliver_send(seq_, std::move(message));
            return true;
        }
        return post_to(st_, conn_,
                       [seq = seq_, m = std::move(message)](connection& c) mutable { c.mcp_send(seq, std::move(m)); });
    }

    void finish(std::string message) override {
        if (finished_.exchange(true)) return;
        if (tls_handling == raw_) {
            raw_->deliver_finish(seq_, std::move(message));
        } else {
            post_to(st_, conn_,
                    [seq = seq_, m = std::move(message)](connection& c) mutable { c.mcp_finish(seq, std::move(m)); });
        }
        token_.reset();
    }

private:
    std::shared_ptr<shared_state> st_;
    connection* raw_;  // compared only, never dereferenced off its thread
    std::weak_ptr<connection> conn_;
    std::uint64_t seq_;
    bool json_only_;
    std::atomic<bool> finished_{false};
    busy_token token_;
};

class http_standalone final : public mcp::standalone_stream {
public:
    http_standalone(std::shared_ptr<shared_state> st, std::weak_ptr<connection> c, std::uint64_t seq)
        : st_(std::move(st)), conn_(std::move(c)), seq_(seq) {}
    bool send(std::string message) override {
        return post_to(st_, conn_, [seq = seq_, m = std::move(message)](connection& c) mutable {
            c.stream_send(seq, std::move(m));
        });
    }

private:
    std::shared_ptr<shared_state> st_;
    std::weak_ptr<connection> conn_;
    std::uint64_t seq_;
};

void connection::mcp_post() {
    const accepted_types accept = parse_accept(fields_.accept);
    if (!accept.json && !accept.sse)
        return http_error(bhttp::status::not_acceptable,
                          "Not Acceptable: Client must accept application/json or text/event-stream");
    if (!is_json_media_type(fields_.content_type))
        return http_error(bhttp::status::unsupported_media_type,
                          "Unsupported Media Type: Content-Type must be application/json");

    const std::string& body = req().body();
    jp_.reset();
    json::error_code ec;
    jp_.write(body.data(), body.size(), ec);
    if (ec) {
        jp_.reset();
        return http_error(bhttp::status::bad_request, "Parse error: " + json_error_message("the message", body, ec), {},
                          mcp::parse_error);
    }
    json::value message = jp_.release();
    const json::object* obj = message.if_object();
    const json::value* method = obj ? obj->if_contains("method") : nullptr;
    const bool is_initialize = method && method->is_string() && method->get_string() == "initialize";
    const bool is_request = method != nullptr && obj->contains("id");

    std::shared_ptr<mcp::session> session;
    mcp_ = {};
    if (srv_.settings_.stateless) {
        session = srv_.mcp_.stateless_session();
        stateless_session_ = session;
    } else {
        const auto& header = fields_.session_id;
        if (!header) {
            if (!is_initialize)
                return http_error(bhttp::status::bad_request, "Bad Request: Mcp-Session-Id header is required");
            std::string id = random_session_id();
            auto entry = srv_.add_session(id);
            if (!entry)
                return http_error(
                    bhttp::status::service_unavailable,
                    "Service Unavailable: too many MCP sessions (" + std::to_string(srv_.settings_.max_sessions) + ")");
            session = entry->session;
            mcp_.new_session_id = std::move(id);
            mcp_.new_entry = std::move(entry);
        } else {
            auto entry = srv_.find_session(trim(*header));
            if (!entry || entry->session->closed()) {
                if (entry) srv_.end_session(std::string(trim(*header)), entry);
                return http_error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
            }
            session = entry->session;
        }
    }

    mcp_.active = true;
    mcp_.seq = seq_;
    mcp_.json_only = accept.json && !accept.sse;
    mcp_.sse_only = accept.sse && !accept.json;
    mcp_.is_request = is_request;
    phase_ = phase::waiting;
    self_hold_ = shared_from_this();
    auto ex = std::make_shared<mcp_exchange>(st_, this, weak_from_this(), seq_, mcp_.json_only);

    handle_in_engine(*session, std::move(message), std::move(ex));
}

// Hands the message to the engine; what it sends from inside handle() goes out once it returned.
void connection::handle_in_engine(mcp::session& session, json::value message, std::shared_ptr<mcp::exchange> ex) {
    mcp_.in_handle = true;
    tls_handling = this;
    try {
        session.handle(std::move(message), std::move(ex));
    } catch (...) {
        tls_handling = nullptr;
        mcp_.in_handle = false;
        if (!mcp_.held_finish) {  // no answer will come: let on_request() answer 500
            mcp_ = {};
            self_hold_.reset();
            phase_ = phase::handling;
            throw;
        }
    }
    tls_handling = nullptr;
    mcp_.in_handle = false;

    // What the engine sent from inside handle(), now that it has returned.
    auto held = std::move(mcp_.held_sends);
    for (auto& m : held) mcp_send(seq_, std::move(m));
    if (mcp_.held_finish) {
        auto f = std::move(*mcp_.held_finish);
        mcp_.held_finish.reset();
        mcp_finish(seq_, std::move(f));
    }
    if (phase_ == phase::waiting || phase_ == phase::stream) watch();
}

// From inside session::handle() on this connection's thread: kept until handle() returns, so
// that nothing re-enters the engine from within it.
void connection::deliver_send(std::uint64_t seq, std::string message) {
    if (seq != mcp_.seq) return;
    if (mcp_.in_handle)
        mcp_.held_sends.push_back(std::move(message));
    else
        mcp_send(seq, std::move(message));
}

void connection::deliver_finish(std::uint64_t seq, std::string message) {
    if (seq != mcp_.seq) return;
    if (mcp_.in_handle)
        mcp_.held_finish = std::move(message);
    else
        mcp_finish(seq, std::move(message));
}

void connection::mcp_send(std::uint64_t seq, std::string message) {
    if (!mcp_.active || seq != mcp_.seq || stream_end_queued_) return;
    if (phase_ != phase::waiting && !(phase_ == phase::stream && sse_)) return;
    if (!sse_) start_sse(mcp_.new_session_id);
    queue_event(message);
    flush_stream();
}

void connection::mcp_finish(std::uint64_t seq, std::string message) {
    if (!mcp_.active || seq != mcp_.seq) return;
    if (phase_ != phase::waiting && phase_ != phase::stream) return;
    std::string session_header = mcp_.new_session_id;
    if (!session_header.empty()) {
        // The session lives on only when initialize succeeded.
        json::error_code ec;
        const json::value v = json::parse(message, ec);
        const auto* o = ec ? nullptr : v.if_object();
        if (!o || !o->contains("result")) {
            srv_.end_session(session_header, mcp_.new_entry);
            session_header.clear();
        }
    }
    if (sse_) {
        if (!message.empty()) queue_event(message);
        queue_stream_end();
        return flush_stream();
    }
    if (message.empty() && mcp_.is_request) {
        // A request that gets no response (the client cancelled it): the transport still owes
        // a 200 with a stream (202 is for notifications and responses only); it ends empty.
        start_sse(session_header);
        queue_stream_end();
        return flush_stream();
    }
    if (message.empty()) {
        prepare(bhttp::status::accepted);
        if (!session_header.empty()) res_.set("Mcp-Session-Id", session_header);
        return send_response();
    }
    if (mcp_.sse_only) {
        start_sse(session_header);
        queue_event(message);
        queue_stream_end();
        return flush_stream();
    }
    prepare(bhttp::status::ok);
    res_.set("Content-Type", "application/json");
    if (!session_header.empty()) res_.set("Mcp-Session-Id", session_header);
    res_.body() = std::move(message);
    send_response();
}

void connection::mcp_get() {
    const accepted_types accept = parse_accept(fields_.accept);
    if (!accept.sse)
        return http_error(bhttp::status::not_acceptable, "Not Acceptable: Client must accept text/event-stream");
    const auto& header = fields_.session_id;
    if (!header) return http_error(bhttp::status::bad_request, "Bad Request: Mcp-Session-Id header is required");
    auto entry = srv_.find_session(trim(*header));
    if (!entry || entry->session->closed())
        return http_error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
    const std::uint64_t my_seq = seq_;
    {
        std::lock_guard l(entry->m);
        if (entry->stream_seq != 0) {
            auto other = entry->stream.lock();
            if (other && !other->gone.load(std::memory_order_acquire))
                return http_error(bhttp::status::conflict, "Conflict: Only one SSE stream is allowed per session");
        }
        entry->stream_seq = my_seq;
        entry->stream = weak_from_this();
        entry->session->set_standalone(std::make_shared<http_standalone>(st_, weak_from_this(), my_seq));
    }
    stream_entry_ = std::move(entry);
    stream_seq_ = my_seq;
    self_hold_ = shared_from_this();
    start_sse({});
    // A stream is not a request that stop() waits for: it ends when the server stops.
    srv_.count(route_, 200, {}, false);
    counted_ = true;
    token_.reset();
    flush_stream();
    set_deadline(steady::now() + stream_keepalive);
    watch();
    if (srv_.stopping()) end_stream_now();
}

void connection::stream_send(std::uint64_t stream_seq, std::string message) {
    if (stream_seq != stream_seq_ || !stream_entry_ || phase_ != phase::stream || stream_end_queued_) return;
    queue_event(message);
    flush_stream();
}

void connection::stream_end(std::uint64_t stream_seq) {
    if (stream_seq != stream_seq_ || !stream_entry_ || phase_ != phase::stream) return;
    end_stream_now();
}

void connection::end_stream_now() {
    if (phase_ != phase::stream) return;
    if (stream_entry_) unregister_stream();
    keep_alive_ = keep_alive_ && !srv_.stopping();
    queue_stream_end();
    flush_stream();
}

void connection::unregister_stream() {
    auto entry = std::move(stream_entry_);
    stream_entry_.reset();
    if (!entry) return;
    std::lock_guard l(entry->m);
    if (entry->stream_seq == stream_seq_) {
        entry->stream_seq = 0;
        entry->stream.reset();
        entry->session->set_standalone(nullptr);
    }
}

void connection::mcp_delete() {
    const auto& header = fields_.session_id;
    if (!header) return http_error(bhttp::status::bad_request, "Bad Request: Mcp-Session-Id header is required");
    const std::string id(trim(*header));
    auto entry = srv_.find_session(id);
    if (!entry) return http_error(bhttp::status::not_found, "Session not found", {}, jsonrpc_session_not_found);
    srv_.end_session(id, entry);
    prepare(bhttp::status::ok);
    send_response();
}

}  // namespace toolhost::serve::detail
