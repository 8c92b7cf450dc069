#pragma once
// The seam between the HTTP transport and the routes. The transport (connection.hpp) reads a
// request, checks what applies to every route (Host, Origin, bearer token, size, time), finds
// the route in the table (routes.cpp) and hands it an exchange, the way Beast's examples hand a
// parsed request to handle_request(req, send). A route answers through the exchange: at once,
// as an SSE stream, or later from another thread through a responder. Routes see neither the
// socket nor the buffers nor the timers.

#include "auth/authenticator.hpp"
#include "common.hpp"
#include "field_arena.hpp"
#include "request_fields.hpp"
#include "response.hpp"
#include "shared_state.hpp"

#include <functional>
#include <utility>

namespace toolhost::serve::detail {

class exchange;
class responder;
class session_table;
class rate_limiter;
class admin_queue;
class admin_console;

// What the routes use of the server.
struct route_services {
    toolhost::host& host;
    mcp::server& mcp;
    const serve_settings& settings;
    session_table& sessions;
    const std::atomic<bool>& ready;                                       // /readyz
    const std::function<std::pair<bool, boost::json::object>()>& reload;  // /v1/admin/reload; may be empty
    auth::authenticator& auth;     // who the client is, what it may call (the connection asked already)
    rate_limiter& limits;          // per-client rates (requests: the connection; calls: the call routes)
    admin_queue& admin;            // blocking administrative work (reload, restart), off the I/O threads
    const std::string& cluster;    // what the hosts share (serve::cluster::describe()); empty: none
    const admin_console* console;  // the operator's console; null when serve.http.console is off
};

using route_handler = void (*)(const route_services&, exchange&);

// One row of the route table. A '*' in the pattern is one path segment (possibly empty).
struct route {
    std::string_view pattern;
    route_id id;  // the metrics label
    route_handler handle;
    bool open = false;            // served without the bearer token (health)
    bool jsonrpc_errors = false;  // errors are JSON-RPC errors without id, not {"ok":false,...}
    bool browser = false;         // read by people in a browser: a 401 asks for Basic credentials
};

// The challenge of a browser route's 401: the browser then asks for the token (as the password).
inline constexpr std::string_view console_challenge = R"(Basic realm="toolhost", charset="UTF-8")";

// The route of a request target (the query is ignored); null when none matches.
const route* find_route(std::string_view target) noexcept;

// What a route keeps on the connection while its answer is pending or streaming. The connection
// holds it until the exchange ends or the client goes away; then it calls detach().
class route_state {
public:
    virtual ~route_state() = default;
    // The connection lets go of the state: the exchange ended, or the client went away.
    virtual void detach() noexcept {}
    // The server closes the connection for good (its I/O threads are gone): end what the
    // request started. Then detach().
    virtual void abort() noexcept {}
    // The server is stopping while the exchange streams: true when the state ends the stream
    // itself, soon (with a last message of its own), false to have the connection end it now.
    virtual bool stopping() noexcept { return false; }
};

using http_request = bhttp::request<bhttp::string_body, bhttp::basic_fields<field_allocator<char>>>;

// One request and its answer, on the connection's thread.
class exchange {
public:
    // ---- the request (its views stay valid until the exchange ends)
    virtual const http_request& request() const noexcept = 0;
    virtual const request_fields& fields() const noexcept = 0;

    // ---- a response at once
    virtual response& start(bhttp::status s) = 0;  // fill its fields and body, then send()
    virtual void send() = 0;
    void reply(bhttp::status s, std::string body, std::string_view content_type = "application/json") {
        response& r = start(s);
        r.set("Content-Type", content_type);
        r.body() = std::move(body);
        send();
    }
    // An error in the body shape of the route (route::jsonrpc_errors), with Allow when given.
    virtual void error(bhttp::status s, std::string_view message, std::string_view allow = {}, int rpc_code = 0) = 0;
    virtual void set_request_id(std::string id) = 0;  // X-Request-Id of the response
    // Headers of the next error(): WWW-Authenticate (401, 403) and Retry-After (429, 503).
    virtual void set_challenge(std::string www_authenticate) = 0;
    virtual void set_retry_after(std::chrono::milliseconds wait) = 0;
    // Who the client is, for per-client quotas and rates: "oauth:" and the token's client (or
    // subject) for an OAuth token, "token" for the static bearer token (every holder is one
    // client), else the remote address (an IPv6 one as its /64).
    virtual std::string_view client() = 0;
    // Who sent the request, as the authenticator found (anonymous when none is required).
    virtual const auth::principal& principal() const noexcept = 0;
    // Refuses a call of `operation` of `tool` that the principal may not make (403 with the scope
    // to ask for) or has made too often (429 with Retry-After). True when it refused.
    bool refuse_call(const route_services& s, std::string_view tool, std::string_view operation);
    // Whether refuse_call() could refuse anything at all (an OAuth principal, or rates per tool)
    // and has not passed this request's calls yet: when not, a route need not find which tool a
    // message names.
    bool calls_checked(const route_services& s) const noexcept;
    // This request's calls passed refuse_call(): a route that runs again for the same request
    // (a session taken over from another host) neither checks nor counts them a second time.
    void calls_passed() noexcept { calls_passed_ = true; }

    // ---- an answer later: the connection stays, keeps `state` and watches the client meanwhile.
    // undo_defer() takes it back (the route answers now after all).
    virtual responder defer(std::shared_ptr<route_state> state) = 0;
    virtual void undo_defer() = 0;
    virtual route_state* state() const noexcept = 0;
    virtual bool pending() const noexcept = 0;  // deferred or streaming, and not ended
    // Emitted on the connection's thread when the client goes away before the answer.
    virtual asio::cancellation_slot client_gone_slot() = 0;

    // ---- a text/event-stream response (chunked on HTTP/1.1, delimited by the close on 1.0)
    virtual void start_events(std::string_view session_id) = 0;  // Mcp-Session-Id when not empty
    virtual bool events_started() const noexcept = 0;
    virtual void event(std::string_view data) = 0;  // one event, written now
    // Writes `last` (when not empty) and the end; the state is let go.
    virtual void end_events(std::string_view last = {}) = 0;
    // The stream stays open (GET /mcp): counted now, not waited for by stop(), keep-alive
    // comments every stream_keepalive.
    virtual void keep_open() = 0;

protected:
    virtual ~exchange() = default;
    friend class responder;
    virtual const io_executor& executor() const noexcept = 0;
    virtual std::uint64_t seq() const noexcept = 0;  // which request is being answered
    // What a route's code threw while answering: logged, answered without the detail.
    virtual void internal_error(std::string_view what) noexcept = 0;
    // A new request on the connection (the implementation calls it before its route).
    void new_request() noexcept { calls_passed_ = false; }
    std::atomic<bool> gone_{false};  // the client is known to be gone (any thread)

private:
    bool calls_passed_ = false;  // the connection's thread only
};

// Answers 405 (with Allow: `allow`) unless the request's method is `method`.
inline bool only(exchange& ex, bhttp::verb method, std::string_view allow) {
    if (ex.request().method() == method) return true;
    ex.error(bhttp::status::method_not_allowed, "Method Not Allowed", allow);
    return false;
}

// A handle on one deferred exchange that any thread may keep: post() runs a function on the
// connection's thread if that exchange is still pending then. It holds the connection weakly;
// posting is refused once the server closed its gate (stop()).
class responder {
public:
    responder() = default;
    responder(std::shared_ptr<shared_state> st, std::weak_ptr<exchange> ex, std::uint64_t seq)
        : st_(std::move(st)), ex_(std::move(ex)), seq_(seq) {}

    template <class Fn>
    bool post(Fn&& fn) const {
        std::shared_lock gate(st_->gate_m);
        if (!st_->open) return false;
        auto ex = ex_.lock();
        if (!ex || ex->gone_.load(std::memory_order_acquire)) return false;
        const auto& executor = ex->executor();
        asio::post(executor, [ex = std::move(ex), seq = seq_, fn = std::forward<Fn>(fn)]() mutable {
            if (ex->seq() != seq || !ex->pending()) return;
            try {
                fn(*ex);
            } catch (const std::exception& e) {
                ex->internal_error(e.what());
            } catch (...) {
                ex->internal_error("an exception that is not a std::exception");
            }
        });
        return true;
    }
    // Whether the connection is still open.
    bool alive() const {
        auto ex = ex_.lock();
        return ex && !ex->gone_.load(std::memory_order_acquire);
    }
    busy_token busy() const { return busy_token(st_); }  // stop() waits while it is held
    const std::shared_ptr<shared_state>& shared() const noexcept { return st_; }

private:
    std::shared_ptr<shared_state> st_;
    std::weak_ptr<exchange> ex_;
    std::uint64_t seq_ = 0;
};

}  // namespace toolhost::serve::detail
