#include "connection.hpp"

#include <toolhost/serve/failure_json.hpp>

namespace toolhost::serve::detail {

template <class Buffers, class Handler>
void connection::async_read_some(const Buffers& b, Handler&& h) {
    if (tls_)
        tls_->async_read_some(b, std::forward<Handler>(h));
    else
        sock_.async_read_some(b, std::forward<Handler>(h));
}

template <class Buffers, class Handler>
void connection::async_write_some(const Buffers& b, Handler&& h) {
    if (tls_)
        tls_->async_write_some(b, std::forward<Handler>(h));
    else
        sock_.async_write_some(b, std::forward<Handler>(h));
}

template <class Buffers, class Handler>
void connection::async_write_all(const Buffers& b, Handler&& h) {
    if (tls_)
        asio::async_write(*tls_, b, std::forward<Handler>(h));
    else
        asio::async_write(sock_, b, std::forward<Handler>(h));
}

void connection::run() {
    boost::system::error_code ignored;
    sock_.set_option(tcp::no_delay(true), ignored);
    if (!tls_context_) return start_read();
    // The handshake gets the time of a request: a client that connects and says nothing is gone
    // as soon as one that sends half a request would be.
    tls_.emplace(sock_, *tls_context_);
    phase_ = phase::handshake;
    set_deadline(steady::now() + std::chrono::milliseconds(srv_.settings_.request_timeout_ms));
    tls_->async_handshake(asio::ssl::stream_base::server,
                          [self = shared_from_this()](const boost::system::error_code& ec) { self->on_handshake(ec); });
}

void connection::on_handshake(const boost::system::error_code& ec) {
    if (phase_ != phase::handshake) return;  // closed meanwhile (deadline, stop)
    if (ec) {
        // Plain HTTP to the HTTPS port, an old protocol version, no shared cipher, a timeout: the
        // client learns it from its TLS library; this side logs it at debug only (anyone can
        // cause it).
        if (logging::enabled(logging::level::debug))
            logging::write(logging::level::debug, "serve.http", "TLS handshake failed",
                           {{"client", std::string(client())}, {"error", ec.message()}});
        return close_now();
    }
    set_deadline(steady::time_point::max());
    start_read();
}

void connection::start_read() {
    phase_ = phase::reading;
    parser_.reset();
    fields_memory_.reset();
    parser_.emplace(std::piecewise_construct, std::make_tuple(),
                    std::make_tuple(field_allocator<char>(fields_memory_)));
    fields_ = {};
    parser_->header_limit(header_limit);
    parser_->body_limit(srv_.settings_.max_request_bytes);
    header_checked_ = false;
    timed_out_ = false;
    refusal_.reset();
    principal_ = {};
    client_key_.clear();
    challenge_.clear();
    retry_after_.reset();
    request_started_ = buffer_.size() > 0;
    if (!request_started_ && srv_.stopping()) return close_now();
    set_deadline(steady::now() + std::chrono::milliseconds(request_started_ ? srv_.settings_.request_timeout_ms
                                                                            : srv_.settings_.idle_timeout_ms));
    parse_buffered();
}

void connection::parse_buffered() {
    for (;;) {
        if (parser_->is_header_done() && !header_checked_) {
            header_checked_ = true;
            if (!on_header()) return;
            continue;
        }
        if (parser_->is_done()) return on_request();
        if (buffer_.size() == 0) return read_some();
        beast::error_code ec;
        const std::size_t n = parser_->put(buffer_.data(), ec);
        buffer_.consume(n);
        if (ec == bhttp::error::need_more) {
            if (n == 0 || buffer_.size() == 0) return read_some();
            continue;
        }
        if (ec) return on_parse_error(ec);
    }
}

void connection::read_some() {
    if (read_pending_ || phase_ == phase::closed) return;
    read_pending_ = true;
    async_read_some(asio::buffer(rbuf_), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                     std::size_t n) { self->on_read(ec, n); });
}

void connection::on_read(const boost::system::error_code& ec, std::size_t n) {
    read_pending_ = false;
    if (n > 0 && phase_ != phase::draining && phase_ != phase::closed) {
        std::memcpy(buffer_.prepare(n).data(), rbuf_.data(), n);
        buffer_.commit(n);
    }
    switch (phase_) {
    case phase::reading: return on_request_bytes(ec, n);
    case phase::closed: return;
    case phase::draining:
        if (tls_) {
            if (std::exchange(tls_shutdown_after_read_, false)) tls_shutdown();
            return;
        }
        drained_ += n;
        if (ec || drained_ > linger_cap) return close_now();
        return read_some();
    default:  // an answer is pending or being written: watching
        if (ec == asio::error::operation_aborted) return;
        if (ec == asio::error::eof && phase_ == phase::writing) {
            keep_alive_ = false;  // a half-closed client still gets this response
            return;
        }
        if (ec) return close_now();  // the client went away
        return watch();
    }
}

void connection::on_request_bytes(const boost::system::error_code& ec, std::size_t n) {
    if (timed_out_) {
        if (request_started_)
            return fail_request(bhttp::status::request_timeout, "the request took too long to arrive");
        return close_now();
    }
    if (ec) {
        if (ec == asio::error::eof && request_started_ && parser_->got_some()) {
            beast::error_code pec;
            parser_->put_eof(pec);
            if (!pec && parser_->is_done()) return on_request();
        }
        return close_now();
    }
    if (!request_started_ && n > 0) {
        request_started_ = true;
        set_deadline(steady::now() + std::chrono::milliseconds(srv_.settings_.request_timeout_ms));
    }
    parse_buffered();
}

void connection::on_parse_error(const beast::error_code& ec) {
    if (ec == bhttp::error::body_limit)
        return fail_request(
            bhttp::status::payload_too_large,
            "the request body is larger than " + std::to_string(srv_.settings_.max_request_bytes) + " bytes");
    if (ec == bhttp::error::header_limit)
        return fail_request(bhttp::status::request_header_fields_too_large, "the request header is too large");
    fail_request(bhttp::status::bad_request, "malformed HTTP request: " + ec.message());
}

std::optional<std::pair<bhttp::status, std::string_view>> connection::framing_problem() const {
    using problem = std::pair<bhttp::status, std::string_view>;
    if (!fields_.transfer_encoding) return std::nullopt;  // Beast refuses differing Content-Lengths
    const auto& h = parser_->get();
    if (h.version() < 11) return problem{bhttp::status::bad_request, "Bad Request: Transfer-Encoding in HTTP/1.0"};
    if (fields_.content_length)
        return problem{bhttp::status::bad_request, "Bad Request: Transfer-Encoding and Content-Length together"};
    // The codings, in order, over every Transfer-Encoding line.
    std::size_t codings = 0;
    bool chunked_before_last = false;
    std::string_view last;
    for (const auto& f : h) {
        if (f.name() != bhttp::field::transfer_encoding) continue;
        std::string_view v = f.value();
        for (;;) {
            const auto comma = v.find(',');
            const std::string_view coding = trim(v.substr(0, comma));
            if (!coding.empty()) {
                chunked_before_last = chunked_before_last || iequals(last, "chunked");
                last = coding;
                ++codings;
            }
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    if (!iequals(last, "chunked") || chunked_before_last)
        return problem{bhttp::status::bad_request, "Bad Request: chunked must be the final transfer coding, once"};
    if (codings > 1)
        return problem{bhttp::status::not_implemented,
                       "Not Implemented: the only transfer coding supported is chunked"};
    return std::nullopt;
}

bool connection::on_header() {
    auto& h = parser_->get();
    route_ = find_route(h.target());
    fields_ = request_fields::of(h);
    const auto& f = fields_;
    if (auto problem = framing_problem()) {
        fail_request(problem->first, std::string(problem->second));
        return false;
    }
    const bool body_expected = !parser_->is_done();
    const bool expect_continue = body_expected && iequals(trim(f.expect), "100-continue");
    // A refused request with a small body is read to its end, so that the connection can
    // stay open; otherwise the answer goes out now and the connection closes.
    auto refuse = [&](bhttp::status st, std::string message) {
        // At debug level only: anyone can cause these, and as often as they like.
        if (logging::enabled(logging::level::debug))
            logging::write(
                logging::level::debug, "serve.http", "request refused",
                {{"status", static_cast<unsigned>(st)}, {"client", std::string(client())}, {"reason", message}});
        const auto length = parser_->content_length();
        if (!body_expected || (length && *length <= refuse_body_limit && !expect_continue)) {
            refusal_ = st;
            refusal_message_ = std::move(message);
            parser_->eager(true);
            return true;
        }
        fail_request(st, std::move(message));
        return false;
    };
    if (!f.host) {
        if (h.version() >= 11) return refuse(bhttp::status::bad_request, "Bad Request: the Host header is required");
    } else if (f.hosts > 1) {
        return refuse(bhttp::status::bad_request, "Bad Request: more than one Host header");
    } else if (!srv_.host_allowed(*f.host)) {
        return refuse(bhttp::status::forbidden, "Forbidden: the Host header is not allowed");
    }
    if (f.origin && !srv_.origin_allowed(*f.origin))
        return refuse(bhttp::status::forbidden, "Forbidden: the Origin is not allowed");
    if (!(route_ && route_->open)) {
        auto who = srv_.auth().authenticate(f.authorization);
        if (auto* c = std::get_if<auth::challenge>(&who)) {
            // A page for people: the browser asks for the token itself when told Basic.
            challenge_ = route_ && route_->browser && c->status == 401 ? std::string(console_challenge)
                                                                       : std::move(c->www_authenticate);
            return refuse(static_cast<bhttp::status>(c->status), std::move(c->message));
        }
        principal_ = std::get<auth::principal>(std::move(who));
        // A browser sends Basic credentials by itself, whichever page asks: only the server's own
        // pages may use them (no other site, not even another one on localhost).
        if (principal_.basic && f.origin && !(f.host && same_origin(*f.origin, *f.host)))
            return refuse(bhttp::status::forbidden,
                          "Forbidden: Basic credentials are accepted only from this server's own pages");
        client_key_.clear();
        if (auto wait = srv_.limits().request(client())) {
            retry_after_ = *wait;
            return refuse(bhttp::status::too_many_requests,
                          "Too Many Requests: this client's request rate is limited (serve.http.rate_limit)");
        }
    }
    parser_->eager(true);
    if (expect_continue) {
        static constexpr std::string_view cont = "HTTP/1.1 100 Continue\r\n\r\n";
        async_write_all(asio::buffer(cont.data(), cont.size()),
                        [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                            if (ec) return self->close_now();
                            if (self->phase_ == phase::reading) self->parse_buffered();
                        });
        return false;
    }
    return true;
}

void connection::on_request() {
    set_deadline(steady::time_point::max());
    phase_ = phase::handling;
    started_at_ = steady::now();
    seq_ = st_->next_seq.fetch_add(1, std::memory_order_relaxed) + 1;
    token_ = busy_token(st_);
    counted_ = false;
    keep_alive_ = request().keep_alive();
    version_ = request().version();
    request_id_.clear();
    new_request();
    if (srv_.stopping()) {
        keep_alive_ = false;
        return error(bhttp::status::service_unavailable, "Service Unavailable: the server is shutting down");
    }
    if (refusal_) {
        const auto st = *refusal_;
        refusal_.reset();
        return error(st, refusal_message_);
    }
    if (logging::enabled(logging::level::debug))
        logging::write(
            logging::level::debug, "serve.http", "request",
            {{"method", std::string(request().method_string())}, {"target", std::string(request().target())}});
    dispatch();
    if (phase_ == phase::waiting || phase_ == phase::stream) watch();
}

// Hands the request to its route (Beast's handle_request); a route that throws gets a 500 that
// tells nothing of why (internal_error()).
void connection::dispatch() {
    try {
        if (!route_) return error(bhttp::status::not_found, "Not Found: " + std::string(request().target()));
        route_->handle(srv_.services_, *this);
    } catch (const std::exception& e) {
        internal_error(e.what());
    } catch (...) {
        internal_error("an exception that is not a std::exception");
    }
}

void connection::internal_error(std::string_view what) noexcept {
    try {
        logging::write(logging::level::error, "serve.http", "internal error while answering a request",
                       {{"route", route_names[metric()]}, {"error", what}});
        if (phase_ == phase::handling || phase_ == phase::waiting) {
            undo_defer();  // an answer that comes later anyway finds the request answered
            return error(bhttp::status::internal_server_error, "Internal Server Error", {}, mcp::internal_error);
        }
    } catch (...) {
    }
    if (phase_ != phase::draining) close_now();  // a stream or a response already under way
}

void connection::error(bhttp::status s, std::string_view message, std::string_view allow, int rpc_code) {
    std::string body;
    const unsigned code = static_cast<unsigned>(s);
    if (route_ && route_->jsonrpc_errors)
        body = mcp::error_response(nullptr, rpc_code != 0 ? rpc_code : jsonrpc_server_error, message);
    else
        body = failure_json(code_for_http_status(code), message);
    res_.reset(s);
    if (!allow.empty()) res_.set("Allow", allow);
    if (!challenge_.empty())
        res_.set("WWW-Authenticate", std::exchange(challenge_, {}));
    else if (s == bhttp::status::unauthorized)
        res_.set("WWW-Authenticate", "Bearer");
    if (retry_after_) {
        // Whole seconds, rounded up (RFC 9110 §10.2.3).
        res_.set("Retry-After", std::to_string((retry_after_->count() + 999) / 1000));
        retry_after_.reset();
    }
    if (s == bhttp::status::service_unavailable && srv_.stopping()) keep_alive_ = false;
    res_.set("Content-Type", "application/json");
    res_.body() = std::move(body);
    send_response();
}

void connection::send_response() {
    disarm_cancel();
    if (srv_.stopping()) keep_alive_ = false;
    if (!request_id_.empty()) res_.set("X-Request-Id", request_id_);
    status_ = res_.status();
    phase_ = phase::writing;
    set_deadline(steady::now() + std::chrono::milliseconds(srv_.settings_.request_timeout_ms));
    async_write_all(res_.buffers(version_, keep_alive_),
                    [self = shared_from_this()](const boost::system::error_code& ec, std::size_t) {
                        self->on_response_written(ec);
                    });
}

void connection::response_done() {
    set_deadline(steady::time_point::max());
    if (!counted_) srv_.count(metric(), status_, steady::now() - started_at_, true);
    finish_request_state();
    release_large_buffers();
    if (!keep_alive_ || srv_.stopping()) return linger_close();
    start_read();
}

void connection::finish_request_state() {
    token_.reset();
    drop_state();
    cancel_armed_ = false;
    cancel_.slot().clear();
    sse_ = false;
    stream_end_queued_ = false;
    kept_open_ = false;
    write_deadline_ = keepalive_at_ = steady::time_point::max();
    self_hold_.reset();  // callers hold a reference of their own (handlers capture one)
}

void connection::release_large_buffers() {
    res_.release_if_larger(kept_buffer_limit);
    if (out_.capacity() > kept_buffer_limit) std::string().swap(out_);
    if (wbuf_.capacity() > kept_buffer_limit) std::string().swap(wbuf_);
}

void connection::fail_request(bhttp::status s, std::string message) {
    phase_ = phase::handling;
    started_at_ = steady::now();
    const bool have_header = parser_ && parser_->is_header_done();
    version_ = have_header ? parser_->get().version() : 11;
    route_ = have_header ? find_route(parser_->get().target()) : nullptr;
    keep_alive_ = false;
    parser_.reset();
    fields_ = {};
    token_ = busy_token(st_);
    counted_ = false;
    request_id_.clear();
    error(s, message);
}

void connection::linger_close() {
    if (phase_ == phase::closed) return;
    phase_ = phase::draining;
    buffer_.consume(buffer_.size());
    set_deadline(steady::now() + linger_time);
    if (tls_) {
        // TLS ends with close_notify (a response delimited by the close is then known to be
        // whole). The shutdown reads too, so a read that watches the client goes first.
        if (!read_pending_) return tls_shutdown();
        tls_shutdown_after_read_ = true;
        boost::system::error_code ignored;
        sock_.cancel(ignored);
        return;
    }
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_send, ignored);
    drained_ = 0;
    read_some();
}

// Sends close_notify and waits, up to the linger deadline, for the client's; then closes.
void connection::tls_shutdown() {
    if (phase_ != phase::draining) return;
    tls_->async_shutdown([self = shared_from_this()](const boost::system::error_code&) { self->close_now(); });
}

void connection::close_now() {
    if (phase_ == phase::closed) return;
    phase_ = phase::closed;
    gone_.store(true, std::memory_order_release);
    boost::system::error_code ignored;
    sock_.shutdown(tcp::socket::shutdown_both, ignored);
    sock_.close(ignored);
    timer_.cancel();
    deadline_ = steady::time_point::max();
    if (cancel_armed_) cancel_.emit(asio::cancellation_type::terminal);  // e.g. a REST call's client went away
    cancel_armed_ = false;
    drop_state();
    token_.reset();
    self_hold_.reset();
}

void connection::set_deadline(steady::time_point d) {
    deadline_ = d;
    if (d == steady::time_point::max()) return;
    if (timer_armed_ && timer_at_ <= d) return;
    timer_armed_ = true;
    timer_at_ = d;
    const std::uint64_t gen = ++timer_gen_;
    timer_.expires_at(d);
    timer_.async_wait(
        [self = shared_from_this(), gen](const boost::system::error_code& ec) { self->on_timer(ec, gen); });
}

void connection::on_timer(const boost::system::error_code& ec, std::uint64_t gen) {
    if (gen != timer_gen_ || ec == asio::error::operation_aborted) return;
    timer_armed_ = false;
    if (phase_ == phase::closed || deadline_ == steady::time_point::max()) return;
    const auto now = steady::now();
    if (now < deadline_) {
        const auto d = deadline_;
        return set_deadline(d);
    }
    deadline_ = steady::time_point::max();
    on_deadline();
}

void connection::on_deadline() {
    switch (phase_) {
    case phase::handshake: return close_now();
    case phase::reading: {
        // Interrupt the read; on_read answers 408 (a request had begun) or just closes.
        timed_out_ = true;
        boost::system::error_code ignored;
        sock_.cancel(ignored);
        return;
    }
    case phase::stream: {
        const auto now = steady::now();
        if (sse_write_busy_ && now >= write_deadline_)
            return close_stalled_stream("the client took no byte of its stream for stream_write_timeout_ms");
        if (kept_open_ && now >= keepalive_at_) {
            keepalive_at_ = now + stream_keepalive;
            if (!sse_write_busy_ && out_.empty()) {
                if (version_ >= 11)
                    append_chunk(out_, ": keep-alive\n\n");
                else
                    out_ += ": keep-alive\n\n";
                flush_stream();
            }
        }
        return arm_stream_deadline();
    }
    case phase::writing:
    case phase::draining: return close_now();
    default: return;
    }
}

// ------------------------------------------------------------------ SSE output

// Starts a 200 text/event-stream response: chunked on HTTP/1.1, delimited by the close on 1.0.
void connection::start_events(std::string_view session_header) {
    disarm_cancel();
    sse_ = true;
    stream_end_queued_ = false;
    status_ = 200;
    phase_ = phase::stream;
    if (srv_.stopping()) keep_alive_ = false;
    out_.clear();
    out_ += version_ >= 11 ? "HTTP/1.1 200 OK\r\n" : "HTTP/1.0 200 OK\r\n";
    out_ += "Content-Type: text/event-stream\r\nCache-Control: no-cache\r\n";
    if (!session_header.empty()) {
        out_ += "Mcp-Session-Id: ";
        out_ += session_header;
        out_ += "\r\n";
    }
    if (version_ >= 11) {
        out_ += "Transfer-Encoding: chunked\r\n";
        if (!keep_alive_) out_ += "Connection: close\r\n";
    } else {
        keep_alive_ = false;
    }
    out_ += "\r\n";
}

void connection::queue_event(std::string_view message) {
    thread_local std::string event;
    event.clear();
    append_event(event, st_->next_event_id.fetch_add(1, std::memory_order_relaxed) + 1, message);
    if (version_ >= 11)
        append_chunk(out_, event);
    else
        out_ += event;
}

void connection::queue_stream_end() {
    if (stream_end_queued_) return;
    stream_end_queued_ = true;
    if (version_ >= 11)
        out_ += "0\r\n\r\n";
    else
        keep_alive_ = false;
}

void connection::flush_stream() {
    if (phase_ == phase::closed) return;
    if (stream_backlog() > srv_.settings_.max_stream_backlog_bytes)
        return close_stalled_stream("the client does not read its stream: over max_stream_backlog_bytes unsent");
    if (sse_write_busy_) return;
    if (out_.empty()) {
        if (stream_end_queued_) return response_done();  // everything is out
        return;
    }
    wbuf_.swap(out_);
    out_.clear();
    wpos_ = 0;
    sse_write_busy_ = true;
    write_stream();
}

// One write_some at a time, so that every byte the client takes renews the write deadline: a
// slow reader is served, one that stopped reading is not waited for.
void connection::write_stream() {
    write_deadline_ = steady::now() + std::chrono::milliseconds(srv_.settings_.stream_write_timeout_ms);
    arm_stream_deadline();
    async_write_some(asio::buffer(wbuf_.data() + wpos_, wbuf_.size() - wpos_),
                     [self = shared_from_this()](const boost::system::error_code& ec, std::size_t n) {
                         self->on_stream_written(ec, n);
                     });
}

void connection::on_stream_written(const boost::system::error_code& ec, std::size_t n) {
    if (phase_ == phase::closed) {
        sse_write_busy_ = false;
        wbuf_.clear();
        wpos_ = 0;
        return;
    }
    if (ec) return close_now();
    wpos_ += n;
    if (wpos_ < wbuf_.size()) return write_stream();
    sse_write_busy_ = false;
    wbuf_.clear();
    wpos_ = 0;
    write_deadline_ = steady::time_point::max();
    flush_stream();
    arm_stream_deadline();
}

void connection::arm_stream_deadline() {
    if (phase_ != phase::stream) return;
    auto d = steady::time_point::max();
    if (sse_write_busy_) d = write_deadline_;
    if (kept_open_) d = std::min(d, keepalive_at_);
    set_deadline(d);
}

void connection::close_stalled_stream(std::string_view why) {
    if (logging::enabled(logging::level::debug))
        logging::write(logging::level::debug, "serve.http", "stream closed",
                       {{"route", route_names[metric()]}, {"reason", why}, {"unsent_bytes", stream_backlog()}});
    close_now();
}

void connection::end_events(std::string_view last) {
    if (phase_ != phase::stream) return;
    drop_state();
    if (!last.empty()) queue_event(last);
    keep_alive_ = keep_alive_ && !srv_.stopping();
    queue_stream_end();
    flush_stream();
}

void connection::keep_open() {
    // Not a request that stop() waits for: counted now, and it ends when the server stops.
    srv_.count(metric(), 200, {}, false);
    counted_ = true;
    token_.reset();
    kept_open_ = true;
    keepalive_at_ = steady::now() + stream_keepalive;
    flush_stream();
    arm_stream_deadline();
    if (srv_.stopping()) end_events();
}

std::string_view connection::client() {
    if (principal_.how == auth::principal::kind::oauth) {
        if (client_key_.empty())
            client_key_ = "oauth:" + (principal_.client_id.empty() ? principal_.subject : principal_.client_id);
        return client_key_;
    }
    // With the static token, the token is the client: it makes all its holders one.
    if (principal_.how == auth::principal::kind::static_token) return "token";
    if (peer_.empty()) {
        boost::system::error_code ec;
        const auto endpoint = sock_.remote_endpoint(ec);
        auto address = endpoint.address();
        if (ec) {
            peer_ = "?";
        } else if (address.is_v6() && address.to_v6().is_v4_mapped()) {
            peer_ = asio::ip::make_address_v4(asio::ip::v4_mapped, address.to_v6()).to_string();
        } else if (address.is_v6()) {
            auto bytes = address.to_v6().to_bytes();  // one IPv6 client owns at least a /64
            std::fill(bytes.begin() + 8, bytes.end(), 0);
            peer_ = asio::ip::address_v6(bytes).to_string() + "/64";
        } else {
            peer_ = address.to_string();
        }
    }
    return peer_;
}

// ------------------------------------------------------------------ deferred answers

responder connection::defer(std::shared_ptr<route_state> state) {
    phase_ = phase::waiting;
    self_hold_ = shared_from_this();
    state_ = std::move(state);
    return responder(st_, weak_from_this(), seq_);
}

void connection::undo_defer() {
    drop_state();
    self_hold_.reset();
    phase_ = phase::handling;
}

}  // namespace toolhost::serve::detail
