#pragma once
// One HTTP/1.1 connection, the transport: reads requests (request_fields), checks what applies to
// every route, hands each to its route through the exchange interface (route.hpp), writes
// responses and SSE streams, and keeps the deadlines. It knows no route: the table (routes.cpp)
// does. With serve.http.tls it speaks TLS over its socket (the handshake first, within
// request_timeout_ms), else plain HTTP; nothing above the byte stream differs.

#include "route.hpp"
#include "server_core.hpp"

#include <boost/asio/ssl/stream.hpp>

namespace toolhost::serve::detail {

class connection final : public exchange, public std::enable_shared_from_this<connection> {
public:
    connection(server_core& srv, asio::io_context& io)
        : srv_(srv), st_(srv.st_), ex_(io.get_executor()), sock_(ex_), timer_(ex_), tls_context_(srv.tls_context()) {}
    ~connection() {
        if (registered_) srv_.unregister(self_it_);
        if (refusing_) st_->refusing.fetch_sub(1, std::memory_order_relaxed);
        if (counted_open_) st_->connections.fetch_sub(1, std::memory_order_relaxed);
    }

    socket_type& socket() noexcept { return sock_; }
    const io_executor& executor() const noexcept override { return ex_; }
    void set_registration(std::list<std::weak_ptr<connection>>::iterator it) {
        self_it_ = it;
        registered_ = true;
    }

    // Once accepted, on the acceptor's thread: the connection counts towards max_connections
    // (refuse(): it does not).
    void count_open() {
        counted_open_ = true;
        st_->connections.fetch_add(1, std::memory_order_relaxed);
    }
    void count_refusing() {
        refusing_ = true;
        st_->refusing.fetch_add(1, std::memory_order_relaxed);
    }

    void run();  // once accepted

    // Over max_connections: answers 503 at once, without reading the request, and closes.
    void refuse(std::string message) { fail_request(bhttp::status::service_unavailable, std::move(message)); }

    // Posted by stop(): idle connections close, streams end, the rest finish their request. A
    // stream whose route ends it with a last message of its own (a subscription's graceful end)
    // counts as work in progress until then, so that stop() waits for it within its grace.
    void on_stopping() {
        if ((phase_ == phase::reading && !request_started_) || phase_ == phase::handshake) return close_now();
        if (phase_ != phase::stream) return;
        if (state_ && state_->stopping()) {
            token_ = busy_token(st_);
            return;
        }
        end_events();
    }

    // From the stopping thread once the I/O threads are gone.
    void force_close() {
        if (state_) state_->abort();
        close_now();
    }

    // ---- exchange (route.hpp)
    const http_request& request() const noexcept override { return parser_->get(); }
    const request_fields& fields() const noexcept override { return fields_; }
    response& start(bhttp::status s) override {
        res_.reset(s);
        return res_;
    }
    void send() override { send_response(); }
    void error(bhttp::status s, std::string_view message, std::string_view allow = {}, int rpc_code = 0) override;
    void set_request_id(std::string id) override { request_id_ = std::move(id); }
    void set_challenge(std::string www_authenticate) override { challenge_ = std::move(www_authenticate); }
    void set_retry_after(std::chrono::milliseconds wait) override { retry_after_ = wait; }
    const auth::principal& principal() const noexcept override { return principal_; }
    responder defer(std::shared_ptr<route_state> state) override;
    void undo_defer() override;
    route_state* state() const noexcept override { return state_.get(); }
    bool pending() const noexcept override {
        return (phase_ == phase::waiting || phase_ == phase::stream) && !stream_end_queued_;
    }
    asio::cancellation_slot client_gone_slot() override {
        cancel_armed_ = true;
        return cancel_.slot();
    }
    void start_events(std::string_view session_id) override;
    bool events_started() const noexcept override { return sse_; }
    void event(std::string_view data) override {
        queue_event(data);
        flush_stream();
    }
    void end_events(std::string_view last = {}) override;
    void keep_open() override;
    std::string_view client() override;

private:
    enum class phase { handshake, reading, handling, waiting, writing, stream, draining, closed };

    // ------------------------------------------------------------------ the byte stream
    // The socket, or TLS over it. One read and one write may be in flight at once (Asio's SSL
    // stream allows that too); the TLS shutdown waits for the read (linger_close()).
    template <class Buffers, class Handler>
    void async_read_some(const Buffers& b, Handler&& h);
    template <class Buffers, class Handler>
    void async_write_some(const Buffers& b, Handler&& h);
    template <class Buffers, class Handler>
    void async_write_all(const Buffers& b, Handler&& h);
    void on_handshake(const boost::system::error_code& ec);
    void tls_shutdown();

    std::uint64_t seq() const noexcept override { return seq_; }
    route_id metric() const noexcept { return route_ ? route_->id : r_other; }

    // The last resort when handling a request threw: logged with the detail, answered 500
    // without it (or the stream closed), and the connection serves on.
    void internal_error(std::string_view what) noexcept override;

    // ------------------------------------------------------------------ reading
    void start_read();
    void parse_buffered();

    // One read at a time, whatever the phase, into rbuf_ (never into buffer_ directly: the parser
    // consumes buffer_ while a read may be pending): the read that watches a client while its answer
    // is pending (a disconnect cancels a REST call, makes MCP sends fail) carries over as the
    // read of the next request, and bytes a pipelining client sends meanwhile wait in the buffer.
    void read_some();
    void on_read(const boost::system::error_code& ec, std::size_t n);

    void watch() {
        if (buffer_.size() < watch_cap) read_some();
    }

    void on_request_bytes(const boost::system::error_code& ec, std::size_t n);
    void on_parse_error(const beast::error_code& ec);

    // Checks what can be checked before the body is read: the framing (RFC 9112), Host, Origin,
    // the token. Answers (and returns false) when the request is refused. Answers "100 Continue"
    // when asked to.
    bool on_header();
    // Transfer-Encoding and Content-Length as RFC 9112 (section 6) allows them in a request: an
    // error message when the body's length is ambiguous or its coding unsupported (the request
    // is then answered and the connection closed: what follows cannot be told apart from a
    // smuggled request), else empty.
    std::optional<std::pair<bhttp::status, std::string_view>> framing_problem() const;

    // ------------------------------------------------------------------ requests
    void on_request();
    void dispatch();

    // ------------------------------------------------------------------ responses
    void send_response();

    void on_response_written(const boost::system::error_code& ec) {
        if (phase_ == phase::closed) return;
        if (ec) return close_now();
        response_done();
    }

    // The response is out: count it, then the next request, or close.
    void response_done();
    void finish_request_state();
    // What an idle connection keeps: buffers that a large request or response grew are let go,
    // so that memory does not stay with connections that wait for their next request.
    void release_large_buffers();
    void drop_state() noexcept {
        if (auto s = std::move(state_)) s->detach();
    }
    void disarm_cancel() {
        if (!cancel_armed_) return;
        cancel_armed_ = false;
        cancel_.slot().clear();
    }

    // A request refused while reading it (too large, too slow, malformed): answer, then close,
    // since the rest of it was not read.
    void fail_request(bhttp::status s, std::string message);

    // ------------------------------------------------------------------ closing
    // After a response with "Connection: close": stop sending, read what the client still sends
    // (so that the kernel does not answer it with a reset that could destroy the response
    // before the client read it), then close.
    void linger_close();
    void close_now();

    // ------------------------------------------------------------------ deadlines
    // One timer per connection. A later deadline does not re-arm it: it fires at the old time,
    // sees the new deadline and waits again. Stale waits are told apart by a generation.
    void set_deadline(steady::time_point d);
    void on_timer(const boost::system::error_code& ec, std::uint64_t gen);
    void on_deadline();

    // ------------------------------------------------------------------ SSE output
    void queue_event(std::string_view message);
    void queue_stream_end();
    // Writes what is queued; closes the stream when the unsent bytes exceed
    // max_stream_backlog_bytes (the client does not read), whether a write is in flight or not.
    void flush_stream();
    void write_stream();
    void on_stream_written(const boost::system::error_code& ec, std::size_t n);
    std::size_t stream_backlog() const noexcept { return out_.size() + (wbuf_.size() - wpos_); }
    // The stream's next deadline: the write in flight must progress by write_deadline_, a kept-open
    // stream gets a comment at keepalive_at_.
    void arm_stream_deadline();
    void close_stalled_stream(std::string_view why);

    server_core& srv_;
    const std::shared_ptr<shared_state> st_;
    io_executor ex_;
    socket_type sock_;
    timer_type timer_;
    std::shared_ptr<asio::ssl::context> tls_context_;     // serve.http.tls; null: plain HTTP
    std::optional<asio::ssl::stream<socket_type&>> tls_;  // over sock_, once run() with TLS
    bool tls_shutdown_after_read_ = false;                // linger_close() waits for the read
    beast::flat_buffer buffer_;                           // received, not yet parsed
    std::array<char, read_chunk> rbuf_;                   // what the pending read fills
    // The request being read or handled: it stays in its parser until the next one begins, so
    // the views in fields_ stay valid and nothing is moved out.
    field_arena fields_memory_;  // parser_'s header fields (reset only while parser_ is empty)
    std::optional<bhttp::request_parser<bhttp::string_body, field_allocator<char>>> parser_;
    request_fields fields_;  // of request(), read once its header is complete
    response res_;

    std::list<std::weak_ptr<connection>>::iterator self_it_;
    bool registered_ = false;
    bool counted_open_ = false;
    bool refusing_ = false;
    std::string peer_;                                      // the client's address as client() gives it, once asked
    std::string client_key_;                                // client() for an OAuth principal
    auth::principal principal_;                             // who sent the current request
    std::string challenge_;                                 // WWW-Authenticate of the next error()
    std::optional<std::chrono::milliseconds> retry_after_;  // Retry-After of the next error()

    phase phase_ = phase::reading;
    const route* route_ = nullptr;  // null: no route matches
    unsigned status_ = 0;
    unsigned version_ = 11;
    bool keep_alive_ = true;
    bool header_checked_ = false;
    bool request_started_ = false;
    bool timed_out_ = false;
    std::optional<bhttp::status> refusal_;  // refused at the header; answered once the body is read
    std::string refusal_message_;
    bool counted_ = false;  // a GET stream is counted when it starts
    steady::time_point started_at_{};
    std::uint64_t seq_ = 0;
    busy_token token_;
    std::shared_ptr<connection> self_hold_;  // while an answer is deferred
    std::shared_ptr<route_state> state_;     // the route's, while its answer is deferred or streaming
    std::string request_id_;

    // deadline timer
    steady::time_point deadline_ = steady::time_point::max();
    steady::time_point timer_at_{};
    bool timer_armed_ = false;
    std::uint64_t timer_gen_ = 0;

    bool read_pending_ = false;
    std::uint64_t drained_ = 0;

    // SSE output (POST streams and the GET stream)
    bool sse_ = false;
    bool sse_write_busy_ = false;
    bool stream_end_queued_ = false;
    bool kept_open_ = false;  // a GET stream (keep_open()): keep-alive comments
    std::string out_;         // queued
    std::string wbuf_;        // being written, from wpos_
    std::size_t wpos_ = 0;
    steady::time_point write_deadline_ = steady::time_point::max();
    steady::time_point keepalive_at_ = steady::time_point::max();

    // the client went away before the answer
    bool cancel_armed_ = false;
    asio::cancellation_signal cancel_;
};

}  // namespace toolhost::serve::detail
