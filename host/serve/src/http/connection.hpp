#pragma once
// One HTTP/1.1 connection: reads requests (request_fields, response), routes them (route()),
// writes responses and SSE streams, and keeps the deadlines. The routes' handlers are members
// too, defined by concern: MCP Streamable HTTP in mcp_routes.cpp, REST, health and the
// breakers in rest_routes.cpp.

#include "common.hpp"
#include "request_fields.hpp"
#include "response.hpp"
#include "server_core.hpp"
#include "shared_state.hpp"

namespace toolhost::serve::detail {

class connection : public std::enable_shared_from_this<connection> {
public:
    connection(server_core& srv, asio::io_context& io)
        : srv_(srv), st_(srv.st_), ex_(io.get_executor()), sock_(ex_), timer_(ex_), jp_({}, parse_opts()) {
        st_->connections.fetch_add(1, std::memory_order_relaxed);
    }
    ~connection() {
        if (registered_) srv_.unregister(self_it_);
        st_->connections.fetch_sub(1, std::memory_order_relaxed);
    }

    socket_type& socket() noexcept { return sock_; }
    const io_executor& executor() const noexcept { return ex_; }
    void set_registration(std::list<std::weak_ptr<connection>>::iterator it) {
        self_it_ = it;
        registered_ = true;
    }

    // Whether the client is known to be gone (any thread).
    std::atomic<bool> gone{false};

    void start() {
        boost::system::error_code ec;
        sock_.set_option(tcp::no_delay(true), ec);
        start_read();
    }

    // Posted by stop(): idle connections close, streams end, the rest finish their request.
    void on_stopping() {
        if (phase_ == phase::reading && !request_started_) return close_now();
        if (phase_ == phase::stream) end_stream_now();
    }

    // From the stopping thread once the I/O threads are gone.
    void force_close() {
        if (stateless_session_) stateless_session_->close();
        stateless_session_.reset();
        close_now();
    }

    // ---- deliveries (on the connection's thread)
    void mcp_send(std::uint64_t seq, std::string message);
    void mcp_finish(std::uint64_t seq, std::string message);
    void stream_send(std::uint64_t stream_seq, std::string message);
    void stream_end(std::uint64_t stream_seq);
    void rest_done(std::uint64_t seq, call_result r);

private:
    enum class phase { reading, handling, waiting, writing, stream, draining, closed };

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

    // Checks what can be checked before the body is read: Host, Origin, the token. Answers
    // (and returns false) when the request is refused. Answers "100 Continue" when asked to.
    bool on_header();

    static route_id classify(std::string_view target) noexcept;

    // ------------------------------------------------------------------ requests
    void on_request();
    void route();

    // ------------------------------------------------------------------ responses
    // An error in the body shape of the route: a JSON-RPC error without id on /mcp, the
    // {"ok":false,"error":{...}} of `toolhost call --json` elsewhere.
    void http_error(bhttp::status s, std::string_view message, std::string_view allow = {}, int rpc_code = 0);

    void reply(bhttp::status s, std::string body, std::string_view content_type = "application/json") {
        prepare(s);
        res_.set("Content-Type", content_type);
        res_.body() = std::move(body);
        send_response();
    }

    void prepare(bhttp::status s) { res_.reset(s); }

    void send_response();

    void on_response_written(const boost::system::error_code& ec) {
        if (phase_ == phase::closed) return;
        if (ec) return close_now();
        response_done();
    }

    // The response is out: count it, then the next request, or close.
    void response_done();
    void finish_request_state();

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

    // ------------------------------------------------------------------ MCP
    struct mcp_request {
        std::uint64_t seq = 0;
        bool json_only = false;   // the client takes application/json only
        bool sse_only = false;    // the client takes text/event-stream only
        bool is_request = false;  // the message is a request (it is owed a 200 answer)
        bool in_handle = false;   // session::handle() is running on this thread
        std::string new_session_id;
        std::shared_ptr<session_entry> new_entry;
        std::vector<std::string> held_sends;  // from inside handle()
        std::optional<std::string> held_finish;
        bool active = false;
    };

    void mcp_post();
    void handle_in_engine(mcp::session& session, json::value message, std::shared_ptr<mcp::exchange> ex);
    void mcp_get();
    void mcp_delete();
    void start_sse(std::string_view session_header);
    void queue_event(std::string_view message);
    void queue_stream_end();
    void flush_stream();
    void on_stream_written(const boost::system::error_code& ec);
    void end_stream_now();
    void unregister_stream();
    void deliver_send(std::uint64_t seq, std::string message);
    void deliver_finish(std::uint64_t seq, std::string message);

    // ------------------------------------------------------------------ REST, health
    void readyz();
    void list_tools();
    void rest_tool(bhttp::verb method);
    void breakers(bhttp::verb method);
    void rest_call(std::string tool, std::string operation);

    friend class mcp_exchange;
    friend class http_standalone;

    server_core& srv_;
    const std::shared_ptr<shared_state> st_;
    io_executor ex_;
    socket_type sock_;
    timer_type timer_;
    beast::flat_buffer buffer_;          // received, not yet parsed
    std::array<char, read_chunk> rbuf_;  // what the pending read fills
    json::parser jp_;
    // The request being read or handled: it stays in its parser until the next one begins, so
    // the views in fields_ stay valid and nothing is moved out.
    std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
    const bhttp::request<bhttp::string_body>& req() const { return parser_->get(); }
    request_fields fields_;  // of req(), read once its header is complete
    response res_;

    std::list<std::weak_ptr<connection>>::iterator self_it_;
    bool registered_ = false;

    phase phase_ = phase::reading;
    route_id route_ = r_other;
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
    std::shared_ptr<connection> self_hold_;
    std::string request_id_;

    // deadline timer
    steady::time_point deadline_ = steady::time_point::max();
    steady::time_point timer_at_{};
    bool timer_armed_ = false;
    std::uint64_t timer_gen_ = 0;

    bool read_pending_ = false;
    std::uint64_t drained_ = 0;

    // MCP POST
    mcp_request mcp_;
    std::shared_ptr<mcp::session> stateless_session_;

    // SSE output (POST streams and the GET stream)
    bool sse_ = false;
    bool sse_write_busy_ = false;
    bool stream_end_queued_ = false;
    std::string out_;
    std::string wbuf_;

    // GET stream
    std::shared_ptr<session_entry> stream_entry_;
    std::uint64_t stream_seq_ = 0;

    // REST call
    bool rest_pending_ = false;
    asio::cancellation_signal cancel_;
};

// Posts `fn` to the connection's io_context, under the gate; false when the connection or the server
// is gone. The strong reference is moved into the handler before the gate opens again.
template <class Fn>
bool post_to(const std::shared_ptr<shared_state>& st, const std::weak_ptr<connection>& weak, Fn&& fn) {
    std::shared_lock gate(st->gate_m);
    if (!st->open) return false;
    auto c = weak.lock();
    if (!c || c->gone.load(std::memory_order_acquire)) return false;
    const auto& ex = c->executor();
    asio::post(ex, [c = std::move(c), fn = std::forward<Fn>(fn)]() mutable { fn(*c); });
    return true;
}

}  // namespace toolhost::serve::detail
